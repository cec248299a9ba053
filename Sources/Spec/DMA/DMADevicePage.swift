/// One page of the device's bus range, as the device met it.
public struct DMADevicePage<W: Word> {
  public var page: DMAPage<W>
  /// The device issued this page's transaction: the page is active and no
  /// earlier transaction faulted (the device stops at its first fault).
  public var issued: W.Condition
  /// It was issued and reached memory at ``DMAPage/address``.
  public var reached: W.Condition
  /// It was issued and faulted.
  public var faulted: W.Condition { issued && !reached }
}
