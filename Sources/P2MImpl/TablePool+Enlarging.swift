import Spec

extension TablePool {
  /// Starts a new low-water mark at the current free count.
  public mutating func resetLowWaterMark() { lowWaterMark = freeCount }

  /// The same tables in a pool with `pages` more free pages, queued after
  /// the ones free now (so allocation takes the same pages first).
  ///
  /// Why: when an update runs a bounded pool dry, the question is whether
  /// it had to. Xen's update takes its pages in an order fixed by the
  /// tables and the request, not by how many are free, so the same update
  /// from the same tables in a larger pool takes the same path up to the
  /// point where the smaller one failed, and its low-water mark says how
  /// many pages the whole update needs at its deepest.
  ///
  /// - Throws: ``XenP2MError/badTableRegion(_:pages:ipaBits:)`` when the
  ///   region would no longer fit (as ``init(baseFrame:geometry:poolPages:)``).
  public func enlarged(by pages: Int, ipaBits: Int) throws(XenP2MError) -> TablePool {
    let total = totalPages + max(pages, 0)
    guard pages >= 0, Self.regionFits(baseFrame: baseFrame, totalPages: UInt64(total), poolPages: poolPages + pages, ipaBits: ipaBits)
    else { throw .badTableRegion(baseFrame, pages: total, ipaBits: ipaBits) }
    var larger = self
    larger.storage.append(contentsOf: repeatElement(0, count: pages * Self.entriesPerTable))
    larger.freeRing = (0..<freeCount).map { freeRing[(freeHead + $0) % poolPages] } + (0..<pages).map { Int32(totalPages + $0) }
    larger.freeRing += Array(repeating: 0, count: poolPages + pages - larger.freeRing.count)
    larger.freeHead = 0
    larger.freeCount = freeCount + pages
    larger.lowWaterMark = larger.freeCount
    larger.inUse += Array(repeating: false, count: pages)
    larger.poolPages = poolPages + pages
    return larger
  }
}

extension XenP2M {
  /// Gives the pool `pages` more free pages (``TablePool/enlarged(by:ipaBits:)``).
  public mutating func enlargePool(by pages: Int) throws(XenP2MError) {
    memory = try memory.enlarged(by: pages, ipaBits: geometry.ipaBits)
  }

  /// Starts the pool's low-water mark afresh (``TablePool/resetLowWaterMark()``).
  public mutating func resetPoolLowWaterMark() { memory.resetLowWaterMark() }
}
