import Spec

extension Platform {
  /// What Xen's stream map entry allocation makes of one SMMUv1/v2's
  /// described devices, assigned to dom0 in `devices`' order: the devices
  /// that share an entry and those refused, as notes.
  ///
  /// From Xen 4.20 (`ef3b4768b3`; ``XenVersion/sharesMaskedStreamMatchEntries``)
  /// `arm_smmu_find_sme()` (smmu.c) gives a stream inside an earlier
  /// device's masked SMR that device's entry, and `arm_smmu_domain_add_master()`
  /// later rewrites the shared entry's S2CR for whichever device is
  /// assigned: giving one of them to a guest moves the other's DMA to the
  /// guest's context, and detaching it faults both. A stream overlapping
  /// an SMR without being inside it is −EINVAL: `handle_device()` fails
  /// and Xen panics building dom0. Before 4.20 masks are dropped, so only
  /// devices with the same stream ID share, and nothing is refused.
  static func streamMatchSharing(_ devices: [(device: String, requests: [StreamMatchRegister])], on smmu: String, xen: XenVersion) -> [String] {
    var smrs: [StreamMatchRegister?] = []
    var owners: [String] = []
    var notes: [String] = []
    for (device, requests) in devices {
      for request in requests {
        let wanted = xen.sharesMaskedStreamMatchEntries ? request : StreamMatchRegister(id: request.id)
        switch SMMU.findStreamMapEntry(for: wanted, in: smrs + [nil]) {
        case .entry(let index) where index < smrs.count:
          guard owners[index] != device else { continue }
          notes.append(
            "\(device): stream \(Self.text(wanted)) shares \(owners[index])'s stream map entry \(Self.text(smrs[index] ?? wanted)) on \(smmu) "
              + "(Xen \(xen.name), arm_smmu_find_sme()): assigning either to a guest moves the other's DMA to the guest's context, and detaching it faults both")
        case .partialOverlap(let index):
          notes.append(
            "\(device): stream \(Self.text(wanted)) partly overlaps \(owners[index])'s SMR \(Self.text(smrs[index] ?? wanted)) on \(smmu): "
              + "Xen \(xen.name) refuses it (arm_smmu_find_sme(): -EINVAL) and fails to build dom0; 'dmaverify run' cannot boot this scenario")
        case .entry, .full:
          smrs.append(wanted)
          owners.append(device)
        }
      }
    }
    return notes
  }

  private static func text(_ smr: StreamMatchRegister) -> String {
    hex(UInt64(smr.id)) + (smr.mask == 0 ? "" : "/" + hex(UInt64(smr.mask)))
  }
}
