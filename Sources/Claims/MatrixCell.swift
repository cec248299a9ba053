import Spec

/// One cell of the DMA matrix (DESIGN.md §4 item 6): a Linux policy, a dom0
/// layout, where the device sits, what kind of page the buffer is, its
/// shape, and which Xen.
package struct MatrixCell: Hashable, Sendable, CustomStringConvertible, Codable {
  package enum Layout: String, CaseIterable, Sendable, Codable {
    case direct = "direct-mapped"
    case coloured
  }
  package enum DeviceClass: String, CaseIterable, Sendable, Codable {
    /// Behind an SMMU and attached to dom0's context.
    case attached
    /// Not behind any SMMU: addresses reach memory untranslated.
    case untranslated = "not-behind-smmu"
    /// Behind an SMMU that Xen does not know about for it: USFCFG=1 faults.
    case undescribed
  }
  package enum PageKind: String, CaseIterable, Sendable, Codable {
    /// dom0's own RAM.
    case local
    /// A guest page mapped with GNTTABOP_map_grant_ref (in the grant tree).
    case grant
    /// A guest page mapped with XENMEM_add_to_physmap gmfn_foreign.
    case foreign
  }
  package enum Shape: String, CaseIterable, Sendable, Codable {
    case onePage = "one-page"
    case straddling
  }
  /// The `04085ec1ac` grant fix (Xen 4.15): before it no 1:1 entry is
  /// made for grants. A cell covers every release on its side
  /// (``releases``); ``version`` is the one named when a single release is
  /// wanted.
  package enum XenFix: String, CaseIterable, Sendable, Codable {
    case before = "before-fix"
    case after = "after-fix"

    package var version: XenVersion { self == .before ? .v4_14 : .v4_20 }

    /// Every release the spec models on this side of the fix: 4.12–4.14
    /// before it, 4.15 onwards after. A cell holds for all of them.
    package var releases: [XenVersion] {
      XenVersion.supportedMinors.compactMap { XenVersion(name: "4.\($0)") }.filter {
        ($0.grantIOMMUMapping == .after04085ec1ac) == (self == .after)
      }
    }
  }

  package var policy: DMAPolicy
  package var layout: Layout
  package var device: DeviceClass
  package var page: PageKind
  package var shape: Shape
  package var xen: XenFix

  package init(policy: DMAPolicy, layout: Layout, device: DeviceClass, page: PageKind, shape: Shape, xen: XenFix) {
    self.policy = policy
    self.layout = layout
    self.device = device
    self.page = page
    self.shape = shape
    self.xen = xen
  }

  /// `policy/layout/device/page/shape/xen`, the name used in findings and
  /// in the expectations file.
  package var description: String {
    [policy.rawValue, layout.rawValue, device.rawValue, page.rawValue, shape.rawValue, xen.rawValue].joined(separator: "/")
  }

  /// The claim `theorem[cell].property` (`dma.matrix` unless another
  /// theorem decides the cell), as the theorem reports it and the
  /// expectations file lists it.
  package func claimName(_ property: DMAProperty, theorem: String = "dma.matrix") -> String {
    "\(theorem)[\(self)].\(property.rawValue)"
  }

  package init?(name: String) {
    let parts = name.split(separator: "/").map(String.init)
    guard parts.count == 6, let policy = DMAPolicy(rawValue: parts[0]), let layout = Layout(rawValue: parts[1]),
      let device = DeviceClass(rawValue: parts[2]), let page = PageKind(rawValue: parts[3]),
      let shape = Shape(rawValue: parts[4]), let xen = XenFix(rawValue: parts[5])
    else { return nil }
    self.init(policy: policy, layout: layout, device: device, page: page, shape: shape, xen: xen)
  }

  /// Every cell, in a stable order.
  package static var all: [MatrixCell] {
    var cells: [MatrixCell] = []
    for policy in DMAPolicy.allCases {
      for layout in Layout.allCases {
        for device in DeviceClass.allCases {
          for page in PageKind.allCases {
            for shape in Shape.allCases {
              for xen in XenFix.allCases {
                cells.append(MatrixCell(policy: policy, layout: layout, device: device, page: page, shape: shape, xen: xen))
              }
            }
          }
        }
      }
    }
    return cells
  }
}

/// The three properties of the ideal DMA (DESIGN.md §2).
package enum DMAProperty: String, CaseIterable, Sendable, Codable {
  /// The device reads or writes exactly the machine bytes that back the
  /// buffer (through the bounce slot if bounced), and the data arrives.
  case integrity
  /// It touches no machine byte outside the buffer's and its slot's.
  case isolation
  /// It completes without a fault.
  case liveness
}
