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
    StatementKind.syntax[kind.keyword]!.write(kind)
  }

  static func domULine(_ domain: DomUDeclaration) -> String {
    switch domain.memory {
    case .at(let address, let size):
      "domu \(domain.name) id \(domain.id) memory \(hex(address)) \(sizeText(size)) base \(hex(domain.base))" + poolText(domain.p2mPoolPages)
    case .coloured(let colours, let pages):
      "domu \(domain.name) id \(domain.id) coloured \(colourText(colours)) pages \(pages) base \(hex(domain.base))" + poolText(domain.p2mPoolPages)
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
    if !device.dmaRegions.isEmpty {
      words += ["dma-ranges", device.dmaRegions.map { "\(hex($0.cpuStart)):\(hex($0.dmaStart)):\(hex($0.size))" }.joined(separator: ",")]
    }
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
