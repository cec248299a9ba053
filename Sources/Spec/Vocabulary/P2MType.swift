/// Xen's `p2m_type_t` (xen/arch/arm/include/asm/p2m.h; identical in 4.15's
/// asm-arm/p2m.h). The raw values are what Xen stores in the descriptor's
/// software bits 58:55 (fact sheet §1.1, §1.2).
public enum P2MType: UInt8, CaseIterable, Sendable, CustomStringConvertible {
  case invalid = 0
  case ramRW = 1
  case ramRO = 2
  case mmioDirectDev = 3
  case mmioDirectNC = 4
  case mmioDirectC = 5
  case mapForeignRW = 6
  case mapForeignRO = 7
  case grantMapRW = 8
  case grantMapRO = 9
  /// "used only to decide the page attribute": the 1:1 grant entries (§2.1).
  case iommuMapRW = 10
  case iommuMapRO = 11

  /// Xen's spelling, as in `p2m_ram_rw`, used in scenarios and reports.
  public var xenName: String {
    switch self {
    case .invalid: "invalid"
    case .ramRW: "ram_rw"
    case .ramRO: "ram_ro"
    case .mmioDirectDev: "mmio_direct_dev"
    case .mmioDirectNC: "mmio_direct_nc"
    case .mmioDirectC: "mmio_direct_c"
    case .mapForeignRW: "map_foreign_rw"
    case .mapForeignRO: "map_foreign_ro"
    case .grantMapRW: "grant_map_rw"
    case .grantMapRO: "grant_map_ro"
    case .iommuMapRW: "iommu_map_rw"
    case .iommuMapRO: "iommu_map_ro"
    }
  }

  public init?(xenName: String) {
    guard let match = P2MType.allCases.first(where: { $0.xenName == xenName }) else { return nil }
    self = match
  }

  public var description: String { xenName }

  /// `p2m_is_valid()`: the type says "mapped" (distinct from the hardware
  /// valid bit, §1.2).
  public var isValid: Bool { self != .invalid }
  /// `p2m_is_ram`.
  public var isRAM: Bool { self == .ramRW || self == .ramRO }
  /// `p2m_is_foreign`.
  public var isForeign: Bool { self == .mapForeignRW || self == .mapForeignRO }
  /// `p2m_is_grant`.
  public var isGrant: Bool { self == .grantMapRW || self == .grantMapRO }
  /// `p2m_is_any_ram` = RAM ∪ grant ∪ foreign; the iommu_map types are not.
  public var isAnyRAM: Bool { isRAM || isForeign || isGrant }

  /// Stage-2 permissions from `p2m_set_permission()` (xen/arch/arm/mmu/p2m.c),
  /// before any mem_access restriction (§1.1 table): read is always set by
  /// `mfn_to_p2m_entry()`; write only for the `_rw` and MMIO types; execute
  /// only for RAM.
  public var permissions: Permissions {
    switch self {
    case .ramRW: Permissions(read: true, write: true, execute: true)
    case .ramRO: Permissions(read: true, write: false, execute: true)
    case .iommuMapRW, .mapForeignRW, .grantMapRW, .mmioDirectDev, .mmioDirectNC, .mmioDirectC:
      Permissions(read: true, write: true, execute: false)
    case .iommuMapRO, .mapForeignRO, .grantMapRO, .invalid:
      Permissions(read: true, write: false, execute: false)
    }
  }

  /// Stage-2 MemAttr[3:0] from `mfn_to_p2m_entry()` (§1.1): Device-nGnRE for
  /// `mmio_direct_dev`, Normal NC for `mmio_direct_nc`, Normal WB otherwise.
  public var memoryAttributes: UInt64 {
    switch self {
    case .mmioDirectDev: 0x1
    case .mmioDirectNC: 0x5
    default: 0xF
    }
  }

  /// SH[1:0]: outer-shareable (2) for the MMIO types, inner (3) otherwise (§1.1).
  public var shareability: UInt64 {
    switch self {
    case .mmioDirectDev, .mmioDirectNC, .mmioDirectC: 2
    default: 3
    }
  }
}

/// Stage-2 access permissions of a mapping (S2AP and XN).
public struct Permissions: Hashable, Sendable, CustomStringConvertible {
  public var read: Bool
  public var write: Bool
  public var execute: Bool

  public init(read: Bool, write: Bool, execute: Bool) {
    self.read = read
    self.write = write
    self.execute = execute
  }

  public func allows(_ access: Access) -> Bool {
    switch access {
    case .read: read
    case .write: write
    }
  }

  public var description: String { (read ? "r" : "-") + (write ? "w" : "-") + (execute ? "x" : "-") }
}

/// A memory access by a device or the CPU: DMA from memory to the device
/// reads, DMA from the device to memory writes.
public enum Access: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
  case read
  case write
  public var description: String { rawValue }
}
