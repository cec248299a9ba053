/// Which Xen release the spec models. Only behaviour that differs between
/// releases *and* matters for dom0 DMA is keyed on it; everything else is the
/// behaviour of 4.15 through 4.21, which agree on it (fact sheet §2, §5).
///
/// Names are the `.0` releases ("4.14", "4.15", …). Stable backports are not
/// modelled: `04085ec1ac` was backported to the 4.13 and 4.14 branches (§8),
/// so a patched 4.14.x behaves like "4.15" here. Releases before 4.12 are not
/// accepted: their grant predicate (`need_iommu(d)`, before `91d4eca7ad`) is
/// not described by the fact sheet.
public struct XenVersion: Hashable, Comparable, Sendable, CustomStringConvertible {
  /// The minor number of release 4.`minor`.
  public let minor: Int

  /// The releases the spec can model.
  public static let supportedMinors = 12...21

  public static let v4_14 = XenVersion(checkedMinor: 14)
  public static let v4_15 = XenVersion(checkedMinor: 15)
  public static let v4_17 = XenVersion(checkedMinor: 17)
  public static let v4_20 = XenVersion(checkedMinor: 20)
  public static let latest = XenVersion(checkedMinor: supportedMinors.upperBound)
  /// The release modelled when none is named: by a scenario without `xen`,
  /// and by every command's `--xen` default, so that the same board or
  /// scenario gets the same answer from each command. The latest release
  /// the spec models, which has every fix and LLC colouring.
  public static let defaultRelease = latest

  private init(checkedMinor: Int) { minor = checkedMinor }

  /// Parses a scenario's `xen <version>`: "4.N" with N in ``supportedMinors``.
  public init?(name: String) {
    let parts = name.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 2, parts[0] == "4", parts[1].allSatisfy(\.isASCII),
      let minor = Int(parts[1]), String(minor) == parts[1], Self.supportedMinors.contains(minor)
    else { return nil }
    self.minor = minor
  }

  public var name: String { "4.\(minor)" }
  public var description: String { "Xen \(name)" }
  public static func < (lhs: XenVersion, rhs: XenVersion) -> Bool { lhs.minor < rhs.minor }

  /// Which `gnttab_need_iommu_mapping()` Arm has (asm/grant_table.h; §2.1
  /// step 5, §8): broken by `91d4eca7ad` in 4.12, fixed by `04085ec1ac` in
  /// 4.15.0-rc1.
  public var grantIOMMUMapping: GrantIOMMUMapping {
    minor >= 15 ? .after04085ec1ac : .before04085ec1ac
  }

  /// How a grant unmap decides to re-map the 1:1 IOMMU entry read-only.
  /// Up to 4.15 `unmap_common()` asks `mapkind()` over the maptrack after
  /// releasing the entry and re-maps read-only whenever only read-only maps
  /// of the frame remain, whatever the removed map was. From 4.16
  /// (`9781b51efd`, "gnttab: replace mapkind()", XSA-380; backported to
  /// 4.15.2 — the spec's 4.15 is 4.15.0) it keeps per-MFN read and
  /// write counts in `lgt->maptrack_tree` and re-maps read-only only when
  /// the removed map was writable and it was the last writable one
  /// (RELEASE-4.16.0 xen/common/grant_table.c, `unmap_common()`). The two
  /// differ when the 1:1 entry was changed behind the grant code's back.
  public var remapsReadOnlyOnlyAfterLastWritable: Bool { minor >= 16 }

  /// Whether `p2m_remove_mapping()` checks what it removes: since
  /// `5a4a2cef08` (first in RELEASE-4.17.0, xen/arch/arm/p2m.c; not in
  /// 4.15.x or 4.16.x) it refuses with −EILSEQ to remove an `any_ram`
  /// entry whose MFN is not the one the caller names; before, it set the
  /// range to INVALID_MFN whatever was mapped there. A grant unmap whose
  /// host GFN was re-mapped meanwhile removes the new entry on 4.16 and
  /// fails on 4.17.
  public var checksMFNOnRemoval: Bool { minor >= 17 }

  /// Whether a removal clears an entry whose hardware valid bit is 0:
  /// XSA-393 (`a428b913a0`) made `__p2m_set_entry()` zero the entry when
  /// `lpae_is_valid(orig_pte) || removing_mapping`; RELEASE-4.16.0 (and
  /// 4.15.0) zero it only when it is valid, so an entry Set/Way tracking
  /// left hardware-invalid survives its removal with its type and can be
  /// faulted back in (`p2m_resolve_translation_fault()`). Backported to
  /// 4.15.2 and 4.16.1; the model's 4.15 and 4.16 are the .0 releases.
  public var zeroesRemovedHardwareInvalidEntries: Bool { minor >= 17 }

  /// Whether the grant unmap's 1:1 removal names no frame: since
  /// `4cde4a552e` (RELEASE-4.21.0, xen/drivers/passthrough/arm/
  /// iommu_helpers.c `arm_iommu_unmap_page()`) it passes INVALID_MFN to
  /// `guest_physmap_remove_page()`, so with the MFN check an `any_ram`
  /// entry at GFN = MFN is never removed (−EILSEQ: `!mfn_valid(mfn)`),
  /// where up to 4.20 one of that very frame was; `iommu_map` entries are
  /// removed either way.
  public var unmapsOneToOneWithInvalidMFN: Bool { minor >= 21 }

  /// Whether Xen programs a device-tree stream's SMR mask and lets
  /// streams share a stream map entry. `arm_smmu_dt_xlate_generic()`
  /// (xen/drivers/passthrough/arm/smmu.c, already in RELEASE-4.16.0) packs
  /// `fwid = id | mask << SMR_MASK_SHIFT`, the mask from a second `iommus`
  /// cell or the SMMU node's `stream-match-mask`. Up to RELEASE-4.19.0
  /// `arm_smmu_master_alloc_smes()` calls `arm_smmu_find_sme(smmu, id, 0)`
  /// and writes `{id, mask 0}` ("We don't currently share SMRs"): the mask
  /// is dropped. `ef3b4768b3` ("arm/smmu: Complete SMR masking support",
  /// 2024-09-04, first in RELEASE-4.20.0) passes the mask: an SMR that
  /// entirely covers the new `{id, mask}` is reused with `s2crs[idx].count++`,
  /// a partial overlap is −EINVAL, else the first free SMR gets `{id, mask}`.
  public var sharesMaskedStreamMatchEntries: Bool { minor >= 20 }

  /// How long an SMMUv2 stream map entry stays a device's: allocated per
  /// attach up to 4.15, freed at detach and lost in 4.16, kept from 4.17
  /// (``StreamMapEntryLifetime``, xen/drivers/passthrough/arm/smmu.c).
  public var streamMapEntryLifetime: StreamMapEntryLifetime {
    minor <= 15 ? .perAttach : minor == 16 ? .freedOnDetach : .keptOnDetach
  }

  /// Upstream LLC colouring exists from 4.20 (commits of 19 Dec 2024, §5).
  public var hasLLCColouring: Bool { minor >= 20 }

  /// `is_domain_direct_mapped()` became the per-domain `CDF_directmap` flag in
  /// 4.17 (`80e2005373`), and dom0less domUs can ask for it (`75591dcfe0`);
  /// before, only the hardware domain was direct-mapped (§2.3).
  public var allowsDirectMappedDomU: Bool { minor >= 17 }
}

/// The two meanings of Arm's `gnttab_need_iommu_mapping(d)` (§2.1, §8).
public enum GrantIOMMUMapping: String, Hashable, Sendable, CaseIterable {
  /// 4.12–4.14: `is_domain_direct_mapped(d) && need_iommu_pt_sync(d)`.
  /// `need_sync` is false whenever the p2m is shared with the IOMMU, which
  /// Arm forces (§1.6), so no 1:1 grant entry is ever created: swiotlb-xen's
  /// MFN-addressed DMA to a granted page faults in the SMMU.
  case before04085ec1ac
  /// 4.15+: `is_domain_direct_mapped(d) && is_iommu_enabled(d)`.
  case after04085ec1ac

  /// Whether the predicate holds for a domain with these properties.
  func needsIOMMUMapping(directMapped: Bool, iommuEnabled: Bool) -> Bool {
    switch self {
    case .before04085ec1ac: false
    case .after04085ec1ac: directMapped && iommuEnabled && !SeededBug.grantNoOneToOneEntry.isActive
    }
  }
}
