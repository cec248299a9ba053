import Foundation

/// Which device-tree nodes master the bus, as a list of rules read from a
/// data file: `dma-bindings.txt` in this module (embedded in the binary),
/// and optionally the user's own file in the same format, consulted first.
///
/// A device tree says which masters are behind an IOMMU (`iommus`,
/// `mmu-masters`, `iommu-map`), but not which nodes master the bus at all:
/// "devices that do not have the iommus property could or could not be DMA
/// masters" (Julien Grall in the seed thread). That knowledge is in the
/// Linux bindings and drivers, per compatible; the file records it with the
/// binding or driver that shows it, so that a reader can check every line.
package struct DMABindings: Hashable, Sendable {
  package enum Verdict: String, Hashable, Sendable {
    /// A node the rule selects reads or writes memory itself.
    case master
    /// A node the rule selects never masters the bus.
    case notMaster = "not-master"
    /// No node below one the rule selects masters the bus (I²C, SPI, MDIO…).
    case bus
  }

  package struct Rule: Hashable, Sendable {
    package var verdict: Verdict
    /// Glob over compatible strings; nil when the selector names only a node.
    package var compatible: String?
    /// Glob over node names without the unit address; nil when any.
    package var nodeName: String?
    package var family: String
    package var reason: String
    /// The binding or driver that shows it.
    package var source: String
    package var file: String
    package var line: Int

    /// The selector as written.
    package var selector: String { (compatible ?? "") + (nodeName.map { "@" + $0 } ?? "") }
    package var location: String { "\(file):\(line)" }

    /// The compatible string by which the rule selects `node` ("" when it
    /// selects by name alone), or nil.
    func selects(_ node: DeviceTreeNode) -> String? {
      if let nodeName, !DMABindings.glob(nodeName, matches: node.baseName) { return nil }
      guard let compatible else { return "" }
      return node.compatible.first { DMABindings.glob(compatible, matches: $0) }
    }
  }

  /// What the rules say about one node.
  package struct Decision: Hashable, Sendable {
    package var rule: Rule
    /// The compatible the rule matched ("" for a name-only selector).
    package var compatible: String
    /// For a `bus` rule, the ancestor it selected.
    package var bus: String?
  }

  package var rules: [Rule]

  package init(rules: [Rule]) { self.rules = rules }

  /// The rules shipped with dmaverify (`dma-bindings.txt`).
  package static let bundled: DMABindings = {
    do {
      return try parse(String(decoding: PackageResources.dma_bindings_txt, as: UTF8.self), file: "dma-bindings.txt")
    } catch {
      // DMABindingsTests parses the file; a broken one never ships.
      fatalError("the bundled \(error)")
    }
  }()

  /// `user`'s rules before these: the first rule that selects a node decides.
  package func preceded(by user: DMABindings) -> DMABindings {
    DMABindings(rules: user.rules + rules)
  }

  /// The first rule that selects `node`: itself for `master`/`not-master`
  /// rules, its nearest ancestor for `bus` rules.
  package func decide(_ node: DeviceTreeNode, in tree: FlattenedDeviceTree) -> Decision? {
    var ancestors: [DeviceTreeNode] = []
    var current = tree.parent(of: node)
    while let parent = current, parent.parent != nil {
      ancestors.append(parent)
      current = tree.parent(of: parent)
    }
    for rule in rules {
      switch rule.verdict {
      case .master, .notMaster:
        if let compatible = rule.selects(node) { return Decision(rule: rule, compatible: compatible) }
      case .bus:
        for ancestor in ancestors {
          if let compatible = rule.selects(ancestor) { return Decision(rule: rule, compatible: compatible, bus: ancestor.path) }
        }
      }
    }
    return nil
  }

  /// Reads rules: `VERDICT SELECTOR FAMILY: REASON | SOURCE` a line, `#`
  /// comments and blank lines ignored (the format is described at the top
  /// of `dma-bindings.txt`).
  /// - Throws: ``DMABindingsError`` naming the file and line of the first
  ///   malformed or duplicated rule.
  package static func parse(_ text: String, file: String) throws(DMABindingsError) -> DMABindings {
    var rules: [Rule] = []
    var seen: [String: Int] = [:]
    for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
      let number = index + 1
      func fail(_ message: String) -> DMABindingsError { DMABindingsError(file: file, line: number, message: message) }
      // "\r\n" is one Character, so CRLF files split as LF ones.
      let content = raw.trimmingCharacters(in: .whitespaces)
      if content.isEmpty || content.hasPrefix("#") { continue }
      let fields = content.split(maxSplits: 2, whereSeparator: { $0 == " " || $0 == "\t" })
      guard let verdict = Verdict(rawValue: String(fields[0])) else {
        throw fail("expected a verdict (master, not-master or bus), found '\(fields[0])'")
      }
      guard fields.count == 3 else { throw fail("expected a selector and 'FAMILY: REASON | SOURCE' after '\(verdict.rawValue)'") }
      let selector = String(fields[1])
      let parts = selector.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
      let compatible = parts[0].isEmpty ? nil : parts[0]
      let nodeName = parts.count == 2 ? parts[1] : nil
      guard compatible != nil || !(nodeName ?? "").isEmpty, !selector.contains("@@") else {
        throw fail("expected a selector COMPATIBLE, @NODE-NAME or COMPATIBLE@NODE-NAME, found '\(selector)'")
      }
      if let nodeName, nodeName.isEmpty || nodeName.contains("@") {
        throw fail("expected a node name after '@' in '\(selector)'")
      }
      let rest = String(fields[2])
      guard let bar = rest.range(of: "|") else { throw fail("expected '| SOURCE' (the Linux binding or driver) after the reason") }
      let source = rest[bar.upperBound...].trimmingCharacters(in: .whitespaces)
      let statement = rest[..<bar.lowerBound].trimmingCharacters(in: .whitespaces)
      guard let colon = statement.range(of: ": ") else { throw fail("expected 'FAMILY: REASON', found '\(statement)'") }
      let family = statement[..<colon.lowerBound].trimmingCharacters(in: .whitespaces)
      let reason = statement[colon.upperBound...].trimmingCharacters(in: .whitespaces)
      guard !family.isEmpty, !reason.isEmpty else { throw fail("expected a family and a reason in 'FAMILY: REASON', found '\(statement)'") }
      guard !source.isEmpty else { throw fail("expected a source (the Linux binding or driver) after '|'") }
      // A node rule and a bus rule may share a selector (a pinctrl node,
      // and the pin groups below it); two of the same role may not.
      let key = (verdict == .bus ? "bus " : "node ") + selector
      if let first = seen[key] { throw fail("duplicate selector '\(selector)': already on line \(first)") }
      seen[key] = number
      rules.append(
        Rule(verdict: verdict, compatible: compatible, nodeName: nodeName, family: family, reason: reason, source: source, file: file, line: number))
    }
    return DMABindings(rules: rules)
  }

  /// `*` matches any run of characters, everything else itself.
  package static func glob(_ pattern: String, matches text: String) -> Bool {
    let parts = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
    guard parts.count > 1 else { return pattern == text }
    guard text.hasPrefix(parts[0]), let last = parts.last else { return false }
    var rest = Substring(text.dropFirst(parts[0].count))
    for middle in parts.dropFirst().dropLast() where !middle.isEmpty {
      guard let range = rest.range(of: middle) else { return false }
      rest = rest[range.upperBound...]
    }
    return rest.count >= last.count && rest.hasSuffix(last)
  }
}

/// A malformed bindings file: `file:line: error: message`.
package struct DMABindingsError: Error, Hashable, Sendable, CustomStringConvertible {
  package var file: String
  package var line: Int
  package var message: String

  package var description: String { Printable.escaped("\(file):\(line): error: \(message)") }
}
