/// ``runDMAPages(_:buffer:size:path:device:options:access:ideal:maximumPages:maximumSlotPages:)``'s
/// answer: how Linux mapped the buffer, which bytes the device moved where,
/// and the three properties of the ideal DMA at the level of addresses.
public struct DMAPageRun<W: Word> {
  public var path: DMAPath
  /// `DMA_MAPPING_ERROR`: the device was never started.
  public var mappingError: W.Condition
  /// Of a mapping error: swiotlb-xen found no slot.
  public var noSlot: W.Condition
  /// swiotlb-xen took a slot (which the caller releases at unmap, also
  /// after a mapping error).
  public var slotTaken: W.Condition
  /// The DMA goes through the bounce slot.
  public var bounced: W.Condition
  /// Dom0 physical address of the slot (meaningful when ``slotTaken``).
  public var slot: W
  /// The address the device was given.
  public var dmaAddress: W
  /// Where the device should move the bytes: the buffer or its slot, page
  /// by page of dom0 memory.
  public var expected: [DMAPage<W>]
  /// The device's bus range, page by page.
  public var device: [DMADevicePage<W>]

  /// No fault: mapped, and no transaction faulted.
  public var liveness: W.Condition
  /// The device touched only machine bytes that back the buffer or, when
  /// bounced, its slot (byte for byte: every touched byte is one of the
  /// expected bytes).
  public var isolation: W.Condition
  /// Every byte moved, to or from its expected machine address. Whether
  /// the data then arrived is the concrete layer's (``performDMA``) to see.
  public var addressIntegrity: W.Condition
}

/// The ideal buffer: `size` bytes at dom0 physical address `phys`, page by
/// page through dom0's p2m, for up to `maximumPages` pages.
public func idealBuffer<World: DMAWorld>(
  _ world: World, buffer phys: World.Address, size: World.Address, maximumPages: Int
) -> DMAIdealBuffer<World.Address> {
  var pages: [DMAPage<World.Address>] = []
  var mapped: [World.Address.Condition] = []
  for page in pagesOf(start: phys, size: size, maximumPages: maximumPages) {
    let frame = dom0Frame(of: page, from: phys, in: world)
    var located = page
    located.frame = frame.value
    pages.append(located)
    mapped.append(frame.present)
  }
  return DMAIdealBuffer(pages: pages, mapped: mapped)
}

/// The dom0 frame of a page of the range that starts at dom0 physical
/// address `start`, looked up only when the page is active.
func dom0Frame<World: DMAWorld>(
  of page: DMAPage<World.Address>, from start: World.Address, in world: World
) -> GuardedWord<World.Address> {
  let gfn = (start &+ page.firstByte) >> pageShift
  return branch(page.active, then: { world.dom0Frame(gfn) }, else: { .absent(gfn) })
}

/// One DMA at the level of pages and addresses: Linux maps the buffer
/// (`xen_swiotlb_map_page` or `dma_direct_map_page`, §3.4–3.6), the
/// device moves the range page by page through the SMMU and stops at its
/// first fault, and the result is judged against the ideal DMA (DESIGN.md
/// §2). Written once over ``Word``: ``performDMA`` runs it on the concrete
/// world, the matrix proofs on a symbolic one.
///
/// - Parameters:
///   - ideal: ``idealBuffer(_:buffer:size:maximumPages:)`` of the same
///     buffer.
///   - maximumPages: a bound on the pages the buffer spans. Exact results
///     need it to hold, which the concrete caller guarantees and a proof
///     states as a hypothesis.
///   - maximumSlotPages: a bound on the pages the slot's and the device's
///     ranges span; at most one more than the buffer's (a slot keeps its
///     2 KiB alignment, not the buffer's offset), which is the default. A
///     smaller bound is checked, not trusted: if the ranges reach past it,
///     every property fails.
public func runDMAPages<World: DMAWorld>(
  _ world: inout World, buffer phys: World.Address, size: World.Address, path: DMAPath,
  device: DMADeviceModel<World.Address>, options: DMALinuxSettings<World.Address>, access: Access,
  ideal: DMAIdealBuffer<World.Address>, maximumPages: Int, maximumSlotPages: Int? = nil
) throws(DMARequestError) -> DMAPageRun<World.Address> {
  typealias W = World.Address
  let no = phys.condition(false)
  let pfnToBfn: (W) -> W = { [world] in world.pfnToBfn($0) }

  // Linux maps the buffer.
  var mappingError = no
  var noSlot = no
  var slotTaken = no
  var bounced = no
  var slot = phys.constant(0)
  let dmaAddress: W
  switch path {
  case .swiotlbXen:
    let direct = swiotlbXenMapsDirectly(
      phys: phys, size: size, mask: device.dmaMask, regions: device.dmaRegions,
      maximumPages: SeededBug.straddleNeverChecked.isActive ? 1 : maximumPages,
      hypercallCacheFlush: options.hypercallCacheFlush, coherent: device.coherent, forceBounce: options.forceBounce,
      pfnToBfn: pfnToBfn)
    let taken = branch(direct, then: { .absent(phys) }, else: { world.mapBounceSlot(size: size) })
    slot = taken.value
    let given = SeededBug.bounceSlotOnePageOff.isActive ? slot &+ pageSize : slot
    let bounceAddress = xenPhysToDMA(given, regions: device.dmaRegions, pfnToBfn: pfnToBfn)
    // `swiotlb_tbl_map_single` succeeded, but the slot is still beyond the
    // mask: the slot is released and the mapping fails.
    let reachable = dmaCapable(bounceAddress, size: size, mask: device.dmaMask, busLimit: busDMALimit(device.dmaRegions))
    slotTaken = !direct && taken.present
    noSlot = !direct && !taken.present
    mappingError = noSlot || (slotTaken && !reachable)
    bounced = slotTaken && reachable
    dmaAddress = W.select(direct, xenPhysToDMA(phys, regions: device.dmaRegions, pfnToBfn: pfnToBfn), bounceAddress)
  case .dmaDirect:
    dmaAddress = dmaDirectAddress(phys, regions: device.dmaRegions)
    mappingError = !dmaCapable(dmaAddress, size: size, mask: device.dmaMask, busLimit: busDMALimit(device.dmaRegions))
  }

  // Where the bytes should go: the buffer, or the slot's pages in dom0.
  let slotBound = maximumSlotPages ?? maximumPages + 1
  let slotPages = pagesOf(start: slot, size: size, maximumPages: slotBound)
  var expected: [DMAPage<W>] = []
  for (k, slotPage) in slotPages.enumerated() {
    let bufferPage = k < ideal.pages.count ? ideal.pages[k] : DMAPage(active: no, firstByte: phys.constant(0), count: phys.constant(0), frame: phys.constant(0), offset: phys.constant(0))
    expected.append(
      branch(
        bounced,
        then: {
          var page = slotPage
          page.frame = dom0Frame(of: slotPage, from: slot, in: world).value
          return page
        }, else: { bufferPage }))
  }

  // The device moves its range page by page of bus addresses, and stops at
  // its first fault. [derived] The bus's `dma-ranges` translation comes
  // before the SMMU: what reaches the SMMU (or memory) is each page's
  // `dma_to_phys()`, the address Linux meant — the device tree describes
  // the translation between the device's bus and its parent's, where the
  // SMMU's input lies. Without regions it is the bus address itself.
  var devicePages: [DMADevicePage<W>] = []
  var noFaultYet = !mappingError
  for page in pagesOf(start: dmaAddress, size: size, maximumPages: slotBound) {
    let issued = page.active && noFaultYet
    let address = dmaToPhys(dmaAddress &+ page.firstByte, regions: device.dmaRegions)
    // `branch`, spelt out so that the transaction's typed error passes.
    let landed: GuardedWord<W>
    if let known = issued.knownValue {
      landed = known ? try world.deviceTransaction(address, access: access) : .absent(phys)
    } else {
      landed = .select(issued, try world.deviceTransaction(address, access: access), .absent(phys))
    }
    var touched = page
    touched.frame = landed.value >> pageShift
    touched.offset = landed.value & (pageSize - 1)
    devicePages.append(DMADevicePage(page: touched, issued: issued, reached: issued && landed.present))
    noFaultYet = noFaultYet && !(issued && !landed.present)
  }

  // Judgement, over addresses; only within the bounds.
  let beyond = slotBound * Int(pageSize)
  let withinBounds =
    mappingError
    || ((!bounced || (slot & (pageSize - 1)) &+ size <= UInt64(beyond)) && (dmaAddress & (pageSize - 1)) &+ size <= UInt64(beyond))
  var liveness = !mappingError && withinBounds
  var integrity = liveness
  var isolation = withinBounds
  for page in devicePages {
    liveness = liveness && !page.faulted
    let should = expectedLocation(ofByte: page.page.firstByte, in: expected)
    integrity = integrity && page.page.active.implies(page.reached && page.page.frame == should.frame && page.page.offset == should.offset)
    isolation = isolation && page.reached.implies(covered(page.page, by: expected))
  }
  return DMAPageRun(
    path: path, mappingError: mappingError, noSlot: noSlot, slotTaken: slotTaken, bounced: bounced, slot: slot,
    dmaAddress: dmaAddress, expected: expected, device: devicePages, liveness: liveness, isolation: isolation,
    addressIntegrity: integrity)
}

/// The pages of the byte range `[start, start + size)`, at most
/// `maximumPages`: page k is active when the range reaches it.
func pagesOf<W: Word>(start: W, size: W, maximumPages: Int) -> [DMAPage<W>] {
  let offset = start & (pageSize - 1)
  let end = offset &+ size
  return (0..<maximumPages).map { k in
    let pageStart = UInt64(k) * pageSize
    let first = k == 0 ? start.constant(0) : start.constant(pageStart) &- offset
    let active = k == 0 ? start.condition(true) : end > pageStart
    let pageEnd = end > pageStart + pageSize
    let count = W.select(pageEnd, start.constant(pageStart + pageSize) &- offset, size) &- first
    return DMAPage(active: active, firstByte: first, count: count, frame: start >> pageShift, offset: (start &+ first) & (pageSize - 1))
  }
}

/// The machine frame and offset where byte `index` of the DMA should be,
/// read off the expected pages (the one whose bytes include it).
func expectedLocation<W: Word>(ofByte index: W, in pages: [DMAPage<W>]) -> (frame: W, offset: W) {
  var frame = index.constant(.max)
  var offset = index.constant(.max)
  for page in pages.reversed() {
    let inside = page.active && index >= page.firstByte && index &- page.firstByte < page.count
    frame = W.select(inside, page.frame, frame)
    offset = W.select(inside, page.offset &+ (index &- page.firstByte), offset)
  }
  return (frame, offset)
}

/// Whether the bytes `range` touched in its frame all lie in the union of
/// the active pages' ranges in the same frame: its first byte is covered,
/// and so is every range end that falls inside it (a union of intervals
/// covers an interval iff its start and each interior end point are
/// covered).
func covered<W: Word>(_ range: DMAPage<W>, by pages: [DMAPage<W>]) -> W.Condition {
  let start = range.offset
  let end = start &+ range.count
  func isCovered(_ point: W) -> W.Condition {
    var inside = point.condition(false)
    for page in pages {
      inside = inside || (page.active && page.frame == range.frame && point >= page.offset && point &- page.offset < page.count)
    }
    return inside
  }
  var all = isCovered(start)
  for page in pages {
    let pageEnd = page.offset &+ page.count
    let interior = page.active && page.frame == range.frame && pageEnd > start && pageEnd < end
    all = all && branch(interior, then: { isCovered(pageEnd) }, else: { pageEnd.condition(true) })
  }
  return all
}
