/// The buffer as dom0's CPU sees it: its pages, each with the machine
/// address of its first byte (the ideal DMA, DESIGN.md §2).
public struct DMAIdealBuffer<W: Word> {
  public var pages: [DMAPage<W>]
  /// Per page: the buffer's GFN there has a p2m entry (when active).
  public var mapped: [W.Condition]

  /// Every active page is mapped.
  public var isMapped: W.Condition {
    var all = pages[0].active.constant(true)
    for (page, isMapped) in zip(pages, mapped) { all = all && page.active.implies(isMapped) }
    return all
  }
}
