/// The result of ``stageTwoWalk(memory:geometry:rootAddress:inputAddress:access:)``
/// as words and conditions, so that the two sides of a symbolic `branch`
/// merge field by field.
///
/// Fields that do not apply are fixed (zero / false), never left over from
/// the path taken, so that two outcomes can be compared as a whole: a fault
/// has no output address, permissions or type; a translation has fault
/// kind 0.
public struct WalkOutcome<W: Word>: Mergeable {
  public typealias Condition = W.Condition

  /// Whether the walk faulted.
  public let faulted: W.Condition
  /// The fault's ``StageTwoFault/Kind`` raw value when ``faulted``.
  public let faultKind: W
  /// The level of the fault, or of the leaf that translated.
  public let level: W
  /// The output address when the walk translated.
  public let outputAddress: W
  /// The leaf's S2AP[0], S2AP[1] and XN bits when the walk translated.
  public let read: W.Condition
  public let write: W.Condition
  public let executeNever: W.Condition
  /// The leaf's software bits 58:55 (Xen's p2m type) when the walk translated.
  public let softwareType: W

  @usableFromInline
  init(
    faulted: W.Condition, faultKind: W, level: W, outputAddress: W,
    read: W.Condition, write: W.Condition, executeNever: W.Condition, softwareType: W
  ) {
    self.faulted = faulted
    self.faultKind = faultKind
    self.level = level
    self.outputAddress = outputAddress
    self.read = read
    self.write = write
    self.executeNever = executeNever
    self.softwareType = softwareType
  }

  /// A fault of `kind` at `level`; `like` supplies the word's context.
  @usableFromInline
  static func fault(_ kind: StageTwoFault.Kind, level: Int, like word: W) -> Self {
    let no = word.condition(false)
    return Self(
      faulted: word.condition(true), faultKind: word.constant(kind.rawValue), level: word.constant(UInt64(level)),
      outputAddress: word.constant(0), read: no, write: no, executeNever: no, softwareType: word.constant(0))
  }

  /// Translated to `outputAddress` through `leaf` at `level`.
  @usableFromInline
  static func translated(outputAddress: W, leaf: W, level: Int) -> Self {
    Self(
      faulted: leaf.condition(false), faultKind: leaf.constant(0), level: leaf.constant(UInt64(level)),
      outputAddress: outputAddress, read: XenDescriptor.read(leaf), write: XenDescriptor.write(leaf),
      executeNever: XenDescriptor.executeNever(leaf), softwareType: XenDescriptor.softwareType(leaf))
  }

  /// ESR_ELx.DFSC of the fault (`kind << 2 | level`); meaningful when ``faulted``.
  public var faultStatusCode: W { (faultKind << 2) | level }

  public static func select(_ condition: W.Condition, _ whenTrue: Self, _ whenFalse: Self) -> Self {
    Self(
      faulted: W.Condition.select(condition, whenTrue.faulted, whenFalse.faulted),
      faultKind: W.select(condition, whenTrue.faultKind, whenFalse.faultKind),
      level: W.select(condition, whenTrue.level, whenFalse.level),
      outputAddress: W.select(condition, whenTrue.outputAddress, whenFalse.outputAddress),
      read: W.Condition.select(condition, whenTrue.read, whenFalse.read),
      write: W.Condition.select(condition, whenTrue.write, whenFalse.write),
      executeNever: W.Condition.select(condition, whenTrue.executeNever, whenFalse.executeNever),
      softwareType: W.select(condition, whenTrue.softwareType, whenFalse.softwareType))
  }
}
