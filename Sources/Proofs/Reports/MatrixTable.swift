import Claims
import Spec

/// The DMA matrix as a Xen maintainer reads it: one row per policy, dom0
/// layout and device; one column per page kind, buffer shape and Xen.
///
/// ✓ every property proved; F a fault is possible (liveness refuted);
/// C silent corruption is possible (integrity or isolation refuted with
/// liveness proved); F/C both; ? an unknown; n/a the configuration does
/// not exist.
package enum MatrixTable {
  package static func render(_ findings: [Finding]) -> String {
    var byCell: [String: [DMAProperty: Finding]] = [:]
    for finding in findings {
      guard let (cell, property) = parse(finding.claim) else { continue }
      byCell[cell.description, default: [:]][property] = finding
    }
    guard !byCell.isEmpty else { return "" }
    var columns: [(MatrixCell.PageKind, MatrixCell.Shape, MatrixCell.XenFix)] = []
    for page in MatrixCell.PageKind.allCases {
      for shape in MatrixCell.Shape.allCases {
        for xen in MatrixCell.XenFix.allCases { columns.append((page, shape, xen)) }
      }
    }
    // The longest row title and two spaces: a title never runs into the
    // first cell.
    let rowTitleWidth = DMAPolicy.allCases.flatMap { policy in
      MatrixCell.Layout.allCases.flatMap { layout in
        MatrixCell.DeviceClass.allCases.map { "\(policy.rawValue) / \(layout.rawValue) / \($0.rawValue)".count + 2 }
      }
    }.max() ?? 44
    let cellWidth = 5
    var lines: [String] = []
    func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
    lines.append(pad("", rowTitleWidth) + MatrixCell.PageKind.allCases.map { pad($0.rawValue, cellWidth * 4) }.joined())
    lines.append(pad("", rowTitleWidth) + MatrixCell.PageKind.allCases.map { _ in pad("1pg", cellWidth * 2) + pad("2pg", cellWidth * 2) }.joined())
    lines.append(pad("policy / dom0 / device", rowTitleWidth) + columns.map { pad($0.2 == .before ? "<fix" : "fix", cellWidth) }.joined())
    for policy in DMAPolicy.allCases {
      for layout in MatrixCell.Layout.allCases {
        for device in MatrixCell.DeviceClass.allCases {
          var row = pad("\(policy.rawValue) / \(layout.rawValue) / \(device.rawValue)", rowTitleWidth)
          var any = false
          for (page, shape, xen) in columns {
            let cell = MatrixCell(policy: policy, layout: layout, device: device, page: page, shape: shape, xen: xen)
            guard let properties = byCell[cell.description] else {
              row += pad("", cellWidth)
              continue
            }
            any = true
            row += pad(symbol(properties), cellWidth)
          }
          if any { lines.append(row) }
        }
      }
    }
    lines.append("✓ proved  F fault possible  C silent corruption possible  ? unknown  n/a no such configuration")
    return lines.joined(separator: "\n")
  }

  static func symbol(_ properties: [DMAProperty: Finding]) -> String {
    let verdicts = properties.mapValues(\.verdict)
    if verdicts.values.contains(.inapplicable) { return "n/a" }
    if verdicts.values.contains(.unknown) || verdicts.values.contains(.vacuous) { return "?" }
    let fault = verdicts[.liveness] == .refuted
    // An integrity counterexample is a silent one whenever one exists
    // (``DMAMatrixTheorem``); its replayed outcome says which it is.
    let corruption = verdicts[.isolation] == .refuted || properties[.integrity]?.reason.hasPrefix("corruption") == true
    switch (fault, corruption) {
    case (false, false): return verdicts.values.allSatisfy { $0 == .proved } ? "✓" : "?"
    case (true, false): return "F"
    case (false, true): return "C"
    case (true, true): return "F/C"
    }
  }

  static func parse(_ claim: String) -> (MatrixCell, DMAProperty)? {
    guard claim.hasPrefix("dma.matrix["), let close = claim.lastIndex(of: "]") else { return nil }
    let name = claim[claim.index(claim.startIndex, offsetBy: "dma.matrix[".count)..<close]
    let rest = claim[claim.index(after: close)...]
    guard rest.hasPrefix("."), let cell = MatrixCell(name: String(name)), let property = DMAProperty(rawValue: String(rest.dropFirst())) else {
      return nil
    }
    return (cell, property)
  }
}
