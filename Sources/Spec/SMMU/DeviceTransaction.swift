/// What one transaction of a DMA master becomes on its way to memory:
/// what the SMMU did with its stream, and for a translating context the
/// stage-2 result (fact sheet §6.4).
///
/// ``performDMA(_:policy:dom0:platform:memory:transact:)`` takes the
/// translation of transactions as a parameter, so that the same Linux code
/// and the same judgement run over the spec's SMMU (``SMMUPlatform``
/// with a ``StageTwoTranslator``) and over an optimized one (SMMUImpl's
/// stream matching and IOTLB), and the two runs compare byte for byte.
public struct DeviceTransaction: Hashable, Sendable, CustomStringConvertible {
  public var stream: StreamOutcome
  /// Present exactly when ``stream`` is a context.
  public var stageTwo: StageTwoTranslation?

  public init(stream: StreamOutcome, stageTwo: StageTwoTranslation?) {
    self.stream = stream
    self.stageTwo = stageTwo
  }

  public var description: String {
    stageTwo.map { "\(stream): \($0)" } ?? stream.description
  }
}

/// Translates a transaction of `device` to bus address `busAddress`. Throws
/// ``DMARequestError/unknownDevice(_:)`` for a device the SMMUs do not know.
public typealias DeviceTransactor = (_ device: Device, _ busAddress: UInt64, _ access: Access) throws(DMARequestError) -> DeviceTransaction

extension SMMUPlatform {
  /// The spec's SMMU: ``resolve(_:)`` for the stream, then `translate`
  /// through the context's domain.
  public func transactor(translate: @escaping StageTwoTranslator) -> DeviceTransactor {
    { device, busAddress, access throws(DMARequestError) in
      let stream: StreamOutcome
      do { stream = try resolve(device) } catch { throw .unknownDevice(device.name) }
      guard case .context(let domain, _) = stream else { return DeviceTransaction(stream: stream, stageTwo: nil) }
      return DeviceTransaction(stream: stream, stageTwo: translate(domain, busAddress, access))
    }
  }
}
