import ArgumentParser
import DeviceTree
import Foundation
import Spec
import SystemIO

/// What `platform` and `check` both read from the command line: a board's
/// device tree, DMA bindings, Xen's settings, RAM and dom0's layout, with
/// the same messages and exit statuses for both.
enum BoardInput {
  /// dom0's layout as `--dom0` spells it.
  enum Layout: Equatable {
    case direct
    /// `coloured` (nil: the command's default colours) or `coloured:LIST`.
    case coloured([Int]?)
  }

  /// The bundled DMA bindings, preceded by the user's file if one is given.
  /// A file that cannot be read exits 66; a malformed one 65 with
  /// `file:line: error: …`.
  static func bindings(_ file: String?) throws -> DMABindings {
    guard let file else { return .bundled }
    let bytes: [UInt8]
    do {
      bytes = try InputFile.read(file, limit: 16 << 20)
    } catch {
      FileHandle.standardError.write(Data("\(file): error: cannot read the file: \(error.isDirectory ? "it is a directory, not a bindings file" : error.reason)\n".utf8))
      throw ExitCode(66)
    }
    guard let text = String(validating: bytes, as: UTF8.self) else {
      let offset = (0..<bytes.count).first { String(validating: bytes[..<($0 + 1)], as: UTF8.self) == nil && String(validating: bytes[..<$0], as: UTF8.self) != nil } ?? 0
      let line = bytes[..<offset].filter { $0 == 0x0a }.count + 1
      FileHandle.standardError.write(Data("\(file):\(line): error: offset 0x\(String(offset, radix: 16)): expected UTF-8 text\n".utf8))
      throw ExitCode(65)
    }
    do {
      return DMABindings.bundled.preceded(by: try DMABindings.parse(text, file: file))
    } catch {
      FileHandle.standardError.write(Data("\(error)\n".utf8))
      throw ExitCode(65)
    }
  }

  /// The tree and its platform, with the user's DMA assumptions. A file that
  /// cannot be read exits 66, a malformed tree 65, each with the reader's
  /// message; an assumption naming no node, or the wrong one, is a usage
  /// error.
  static func load(
    _ file: String, dtcTimeout: Double, includeDirectories: [String] = [], bindings: DMABindings = .bundled, assumeDMA: [String] = [],
    assumeNoDMA: [String] = []
  ) throws -> (tree: FlattenedDeviceTree, platform: Platform) {
    let (tree, platform) = try load(file, dtcTimeout: dtcTimeout, includeDirectories: includeDirectories, bindings: bindings)
    do {
      return (tree, try platform.assumingDMA(assumeDMA).assumingNoDMA(assumeNoDMA))
    } catch {
      throw ValidationError(error.message)
    }
  }

  static func load(
    _ file: String, dtcTimeout: Double, includeDirectories: [String], bindings: DMABindings
  ) throws -> (tree: FlattenedDeviceTree, platform: Platform) {
    let tree: FlattenedDeviceTree
    do {
      tree = try FlattenedDeviceTree.load(file: file, includeDirectories: includeDirectories, dtcTimeout: dtcTimeout)
    } catch {
      FileHandle.standardError.write(Data("\(error)\n".utf8))
      switch error {
      case .unreadable: throw ExitCode(66)
      case .malformed: throw ExitCode(65)
      }
    }
    do {
      return (tree, try Platform(tree: tree, bindings: bindings))
    } catch {
      FileHandle.standardError.write(Data("\(error.inFile(file))\n".utf8))
      throw ExitCode(65)
    }
  }

  /// `--xen-config KEY=VALUE[,KEY=VALUE…]` (repeatable): `smmuv3=on|off`
  /// (Xen built with `CONFIG_ARM_SMMU_V3`), `ipmmu=on|off`
  /// (`CONFIG_IPMMU_VMSA`), `iommu=on|off` (Xen's `iommu=` boot option).
  /// Later settings win.
  static func xenConfig(_ options: [String]) throws -> XenConfig {
    var config = XenConfig()
    for option in options {
      for setting in option.split(separator: ",", omittingEmptySubsequences: false) {
        let parts = setting.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let value: Bool?
        switch parts.count == 2 ? parts[1] : "" {
        case "on", "yes", "true", "1": value = true
        case "off", "no", "false", "0": value = false
        default: value = nil
        }
        guard let value, ["smmuv3", "iommu", "ipmmu"].contains(parts[0]) else {
          throw ValidationError("expected --xen-config to be smmuv3=on|off, ipmmu=on|off or iommu=on|off (comma-separated), found '\(setting)' in '\(option)'")
        }
        switch parts[0] {
        case "smmuv3": config.smmuV3Driver = value
        case "ipmmu": config.ipmmuDriver = value
        default: config.iommu = value
        }
      }
    }
    return config
  }

  /// `--ram BASE:SIZE` (repeatable): BASE a number (0x… for hex), SIZE a
  /// number or one with a K, M or G suffix; both page-aligned, not empty,
  /// ending at or below 2^64, banks not overlapping.
  static func ram(_ options: [String]) throws -> [(address: UInt64, size: UInt64)] {
    var banks: [(address: UInt64, size: UInt64)] = []
    for option in options {
      let parts = option.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
      guard parts.count == 2, let address = number(parts[0]), let size = size(parts[1]), size > 0,
        address % pageSize == 0, size % pageSize == 0, address.addingReportingOverflow(size - 1).overflow == false
      else {
        throw ValidationError("expected --ram BASE:SIZE with a page-aligned base and a non-zero page-multiple size such as 0x80000000:2G, found '\(option)'")
      }
      let last = address + (size - 1)
      if let other = banks.first(where: { $0.address <= last && address <= $0.address + ($0.size - 1) }) {
        throw ValidationError("expected --ram banks not to overlap, found '\(option)' overlapping \(hex(other.address)):\(hex(other.size))")
      }
      banks.append((address, size))
    }
    return banks.sorted { $0.address < $1.address }
  }

  static func number(_ text: String) -> UInt64? {
    text.hasPrefix("0x") || text.hasPrefix("0X") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
  }

  static func size(_ text: String) -> UInt64? {
    let shifts: [Character: UInt64] = ["K": 10, "M": 20, "G": 30, "k": 10, "m": 20, "g": 30]
    guard let last = text.last, let shift = shifts[last] else { return number(text) }
    guard let value = number(String(text.dropLast())), value <= UInt64.max >> shift else { return nil }
    return value << shift
  }

  /// `--smmu-stream-map-entries`: 1–128, the range of `SMMU_IDR0.NUMSMRG`
  /// for a stream-matching SMMUv1/v2 (ARM IHI 0062).
  static func streamMapEntries(_ value: Int?) throws -> Int? {
    guard let value else { return nil }
    guard (1...128).contains(value) else {
      throw ValidationError("expected --smmu-stream-map-entries to be 1-128 (SMMU_IDR0.NUMSMRG), found \(value)")
    }
    return value
  }

  /// `-I DIR`/`--include-dir DIR`: each an existing directory. cpp
  /// skips a directory that does not exist without a word, so a typo would
  /// surface only as an include "not found" somewhere else.
  static func validateIncludeDirectories(_ directories: [String]) throws {
    for directory in directories {
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw ValidationError("expected --include-dir to be a directory of device tree includes, found '\(directory)' (\(FileManager.default.fileExists(atPath: directory) ? "not a directory" : "no such directory"))")
      }
    }
  }

  /// The labels of a node, as a DTS refers to them (`&uart0 &serial0`);
  /// empty when the tree has none.
  static func labelText(_ platform: Platform, _ path: String) -> String {
    (platform.labels[path] ?? []).map { "&" + $0 }.joined(separator: " ")
  }

  /// `--dtc-timeout`: finite, positive, at most a day.
  static func validateDTCTimeout(_ seconds: Double) throws {
    guard seconds.isFinite, seconds > 0, seconds <= 86_400 else {
      throw ValidationError("expected --dtc-timeout to be a number of seconds above 0 and at most 86400, found \(seconds)")
    }
  }
}

/// The options `check` and `platform` share for what the tree does not say
/// about Xen and the board: its build and boot settings, the SMMUs'
/// stream-map size, RAM the bootloader fills in.
struct BoardOptions: ParsableArguments {
    @Option(
      name: .customLong("xen-config"),
      help: ArgumentHelp(
        "How Xen was built and booted: smmuv3=on|off (CONFIG_ARM_SMMU_V3), ipmmu=on|off (CONFIG_IPMMU_VMSA), both off by default as in Xen's Kconfig; iommu=on|off (Xen's iommu= option, default on); comma-separated, repeatable.",
        valueName: "settings"))
    var xenConfig: [String] = []

    @Option(
      name: .customLong("smmu-stream-map-entries"),
      help: ArgumentHelp(
        "Stream-map entries (SMMU_IDR0.NUMSMRG, 1-128) of each SMMUv1/v2; the tree does not say it. Default 128, the most an MMU-500 has.",
        valueName: "n"))
    var smmuStreamMapEntries: Int?

    @Option(
      name: .customLong("ram"),
      help: ArgumentHelp("Host RAM the tree leaves to the bootloader (e.g. 0x80000000:2G), replacing the memory nodes'; repeatable.", valueName: "base:size"))
    var ram: [String] = []
}
