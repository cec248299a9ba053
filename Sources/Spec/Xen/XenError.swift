/// Why a Xen operation of the spec was refused, with the status Xen itself
/// returns where there is one. Unless a case says otherwise, a refused
/// operation changes nothing.
public enum XenError: Error, Hashable, Sendable, CustomStringConvertible {
  // MARK: Configuration
  /// `llc_coloring_init()` panics unless the number of colours is a power of
  /// two and at least 2 (§5).
  case colourCountNotPowerOfTwo(Int)
  /// A colour list that names no colour, a colour ≥ the number of colours
  /// (`check_colors()`), or more entries than there are colours
  /// (`parse_color_config()`, xen/common/llc-coloring.c, 4.20 and 4.21).
  case invalidColours([Int], reason: String)
  /// A platform setting Xen does not support.
  case invalidConfiguration(String)
  /// Host RAM banks must be non-empty and must not overlap.
  case invalidHostRAM(String)
  /// The version has no such feature (e.g. colouring before 4.20).
  case unsupported(String, version: XenVersion)
  /// A domain's memory description that Xen would not build.
  case invalidDomainMemory(DomainID, reason: String)
  case domainExists(DomainID)
  /// No such domain: `rcu_lock_domain_by_id()` fails (−ESRCH).
  case noSuchDomain(DomainID)
  /// A frame that should have been free already belongs to someone, or is
  /// not host RAM.
  case frameUnavailable(MFN, owner: FrameOwner?)

  // MARK: Coloured allocator
  /// `alloc_domheap_pages()` with colouring returns NULL for `order > 0`;
  /// there is no buddy fallback (§5).
  case colouredOrderNotZero(Int)
  /// No free page in any of the colours (`alloc_color_heap_page()` returns NULL).
  case colouredHeapExhausted(colours: [Int])
  /// Freeing a frame the coloured allocator did not hand out.
  case colouredFreeOfUnallocated(MFN)

  // MARK: Grant table
  /// `get_paged_frame()` fails: the granted GFN is not RAM of the granting
  /// domain (GNTST_bad_page).
  case grantBadPage(granter: DomainID, GFN, reason: String)
  /// No active maptrack entry under this handle (GNTST_bad_handle).
  case grantBadHandle(local: DomainID, GrantHandle)
  /// A BUG_ON Xen would hit: the hypervisor crashes.
  case xenBug(String)
  /// An Arm IOMMU hook refused the domain (−EINVAL from
  /// `arm_iommu_unmap_page()` for a domain that is not direct-mapped).
  case iommuHookRefused(DomainID, String)
  /// An IOMMU hook failed after the grant itself was unmapped: Xen reports
  /// GNTST_general_error but keeps the unmap (`unmap_common()`). The state
  /// *has* changed.
  case grantIOMMUUpdateFailed(MFN, reason: String)

  // MARK: Physmap
  /// `xenmem_add_to_physmap_one()` refuses (−EINVAL).
  case foreignMapRefused(String)
  /// The caller may not map the other domain's memory (−EPERM from the XSM
  /// check).
  case permissionDenied(String)
  /// `XENMEM_remove_from_physmap` finds no page it can take a reference to
  /// at the GFN (−ENOENT).
  case nothingToRemove(DomainID, GFN)

  // MARK: p2m
  /// `p2m_set_entry` / `p2m_remove_mapping` refused (XSA-301, XSA-410, −EILSEQ).
  case p2m(DomainID, P2MError)

  public var description: String {
    switch self {
    case .colourCountNotPowerOfTwo(let n):
      "the number of LLC colours must be a power of two and at least 2, not \(n)"
    case .invalidColours(let colours, let reason):
      "invalid colour list \(colours): \(reason)"
    case .invalidConfiguration(let reason):
      "invalid configuration: \(reason)"
    case .invalidHostRAM(let reason):
      "invalid host RAM: \(reason)"
    case .unsupported(let feature, let version):
      "\(version) has no \(feature)"
    case .invalidDomainMemory(let domain, let reason):
      "cannot build \(domain)'s memory: \(reason)"
    case .domainExists(let domain):
      "\(domain) already exists"
    case .noSuchDomain(let domain):
      "no domain \(domain) (-ESRCH)"
    case .frameUnavailable(let mfn, let owner):
      owner.map { "\(mfn) already belongs to \($0)" } ?? "\(mfn) is not host RAM"
    case .colouredOrderNotZero(let order):
      "the coloured allocator only serves order 0, not order \(order)"
    case .colouredHeapExhausted(let colours):
      "no free page left in colours \(colours)"
    case .colouredFreeOfUnallocated(let mfn):
      "\(mfn) was not allocated by the coloured allocator"
    case .grantBadPage(let granter, let gfn, let reason):
      "\(granter) cannot grant \(gfn): \(reason) (GNTST_bad_page)"
    case .grantBadHandle(let local, let handle):
      "\(local) has no grant mapping with handle \(handle) (GNTST_bad_handle)"
    case .xenBug(let what):
      "Xen BUG: \(what)"
    case .iommuHookRefused(let domain, let hook):
      "\(hook) refused \(domain), which is not direct-mapped (-EINVAL)"
    case .grantIOMMUUpdateFailed(let mfn, let reason):
      "the grant was unmapped, but updating the 1:1 entry of \(mfn) failed: \(reason) (GNTST_general_error)"
    case .foreignMapRefused(let reason):
      "foreign mapping refused: \(reason) (-EINVAL)"
    case .permissionDenied(let reason):
      "permission denied: \(reason) (-EPERM)"
    case .nothingToRemove(let domain, let gfn):
      "\(domain) has no page it may remove at \(gfn) (-ENOENT)"
    case .p2m(let domain, let error):
      "\(domain)'s p2m refused the update: \(error)"
    }
  }
}
