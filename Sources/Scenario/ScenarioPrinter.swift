import Spec

/// Writes a scenario in the canonical text form that ``ScenarioParser``
/// reads back to an equal scenario.
package enum ScenarioPrinter {
  package static func print(_ scenario: Scenario) -> String {
    var lines: [String] = []
    if let name = scenario.name { lines.append("scenario \"\(name)\"") }
    lines += scenario.statements.map { line(for: $0.kind) }
    return lines.joined(separator: "\n") + "\n"
  }

  package static func line(for kind: StatementKind) -> String {
    switch kind {
    case .xen(let version): "xen \(version)"
    case .ipaBits(let bits): "ipa-bits \(bits)"
    case .llcColours(let count): "llc-colours \(count)"
    case .ram(let address, let size): "ram \(hex(address)) \(sizeText(size))"
    case .iommu(let on): "iommu \(on ? "on" : "off")"
    case .hypercallCacheFlush(let on): "hypercall-cflush \(on ? "on" : "off")"
    case .linuxPolicy(let policy): "linux \(policy.rawValue)"
    case .smmu(let name, let version, let entries, let iotlb):
      "smmu \(name) \(version.rawValue)" + (entries.map { " entries \($0)" } ?? "") + (iotlb.map { " iotlb \($0)" } ?? "")
    case .device(let device): deviceLine(device)
    case .dom0(.directMapped, let size): "dom0 direct-mapped memory \(sizeText(size))"
    case .dom0(.coloured(let colours), let size): "dom0 coloured \(colourText(colours)) memory \(sizeText(size))"
    case .swiotlbPool(let address, let size): "swiotlb \(hex(address)) \(sizeText(size))"
    case .domU(let domain):
      switch domain.memory {
      case .at(let address, let size):
        "domu \(domain.name) id \(domain.id) memory \(hex(address)) \(sizeText(size)) base \(hex(domain.base))" + poolText(domain.p2mPoolPages)
      case .coloured(let colours, let pages):
        "domu \(domain.name) id \(domain.id) coloured \(colourText(colours)) pages \(pages) base \(hex(domain.base))" + poolText(domain.p2mPoolPages)
      }
    case .attach(let device, let domain): "attach \(device) \(domain)"
    case .detach(let device): "detach \(device)"
    case .grant(let grant):
      "grant \(grant.granter) \(hex(grant.gfnAddress)) to dom0 at \(hex(grant.hostAddress)) \(grant.writable ? "rw" : "ro") as \(grant.handle)"
    case .ungrant(let handle): "ungrant \(handle)"
    case .foreign(let foreign):
      "foreign \(foreign.owner) \(hex(foreign.gfnAddress)) into dom0 at \(hex(foreign.hostAddress)) as \(foreign.handle)"
    case .unforeign(let handle): "unforeign \(handle)"
    case .p2mMap(let domain, let gfn, let mfn, let type, let valid, let pages):
      "p2m \(domain) map \(hex(gfn)) \(hex(mfn)) \(type.xenName)" + (pages == 1 ? "" : " size \(sizeText(pages << pageShift))")
        + (valid ? "" : " hw-invalid")
    case .p2mUnmap(let domain, let gfn, let pages): "p2m \(domain) unmap \(hex(gfn))" + (pages == 1 ? "" : " size \(sizeText(pages << pageShift))")
    case .setWay(let domain): "setway \(domain)"
    case .dma(let dma):
      "dma \(dma.request.device) \(dma.request.direction.rawValue) \(hex(dma.request.buffer)) \(sizeText(dma.request.size))"
        + (dma.expected.map { " expect \($0.rawValue)" } ?? "")
    }
  }

  static func deviceLine(_ device: DeviceDeclaration) -> String {
    var words = ["device", device.name]
    switch device.placement {
    case .untranslated:
      words.append("untranslated")
    case .smmu(let name, let streams, let described):
      let entries = streams.indices.map { index in
        let mask = device.streamMasks.indices.contains(index) ? device.streamMasks[index] : 0
        return hex(UInt64(streams[index])) + (mask == 0 ? "" : "/" + hex(UInt64(mask)))
      }
      words += ["smmu", name, "streams", entries.joined(separator: ",")]
      if !described { words.append("undescribed") }
    }
    words.append(device.coherent ? "coherent" : "non-coherent")
    words += ["dma-mask", String(device.dmaMaskBits)]
    if device.passthrough { words.append("passthrough") }
    return words.joined(separator: " ")
  }

  /// `4K`, `2M`, `1G` when exact, else hexadecimal bytes.
  static func poolText(_ pages: Int?) -> String { pages.map { " p2m-pool \($0)" } ?? "" }

  package static func sizeText(_ size: UInt64) -> String {
    for (shift, unit) in [(30, "G"), (20, "M"), (10, "K")] where size != 0 && size % (1 << UInt64(shift)) == 0 {
      return String(size >> UInt64(shift)) + unit
    }
    return hex(size)
  }

  /// Runs of consecutive colours as ranges: `0-3,8`.
  package static func colourText(_ colours: [Int]) -> String {
    var parts: [String] = []
    var index = 0
    while index < colours.count {
      var end = index
      while end + 1 < colours.count && colours[end + 1] == colours[end] + 1 { end += 1 }
      parts.append(end == index ? String(colours[index]) : "\(colours[index])-\(colours[end])")
      index = end + 1
    }
    return parts.joined(separator: ",")
  }
}
