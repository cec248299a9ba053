import FuzzCore
import Spec
import Testing

/// The two configuration bytes of a fuzz input: every configuration the
/// fuzzer can choose survives encoding and decoding, and each field stays
/// in the bits the committed corpus was written with.
@Suite("Fuzz configuration")
struct FuzzConfigurationTests {
  /// Every configuration the bytes can select: each field's every value,
  /// in every combination (the Xen release from the list the colouring bit
  /// picks).
  static var everyConfiguration: [FuzzConfiguration] {
    var all = [FuzzConfiguration()]
    func vary<Value>(_ values: [Value], _ set: (inout FuzzConfiguration, Value) -> Void) {
      all = all.flatMap { configuration in
        values.map { value in
          var varied = configuration
          set(&varied, value)
          return varied
        }
      }
    }
    vary(FuzzConfiguration.ipaSizes) { $0.ipaBits = $1 }
    vary([false, true]) { $0.coloured = $1 }
    vary(SMMUVersion.allCases) { $0.smmuVersion = $1 }
    vary(DMAPolicy.allCases) { $0.policy = $1 }
    vary([true, false]) { $0.iommu = $1 }
    vary([true, false]) { $0.hypercallCacheFlush = $1 }
    vary([false, true]) { $0.untranslatedMMC = $1 }
    vary([false, true]) { $0.undescribedDSP = $1 }
    vary([false, true]) { $0.nonCoherentGPU = $1 }
    vary([false, true]) { $0.gpuBehindSecondSMMU = $1 }
    all = all.flatMap { configuration in
      (configuration.coloured ? FuzzConfiguration.colouredVersions : FuzzConfiguration.versions).map { release in
        var varied = configuration
        varied.xen = release
        return varied
      }
    }
    return all
  }

  @Test("the policy's index fits the bits byte 0 reserves for it, below the IOMMU-off bit")
  func policyFits() {
    #expect(FuzzConfiguration.policyBits <= FuzzConfiguration.policyReservedBits)
    #expect(FuzzConfiguration.policyShift + FuzzConfiguration.policyReservedBits <= 7)
  }

  @Test("every value of every field, in every combination, survives encode → decode")
  func roundTrip() {
    let all = Self.everyConfiguration
    let releases = FuzzConfiguration.versions.count + FuzzConfiguration.colouredVersions.count
    let onOffFields = 6
    #expect(all.count == FuzzConfiguration.ipaSizes.count * releases * SMMUVersion.allCases.count * DMAPolicy.allCases.count << onOffFields)
    #expect(Set(all).count == all.count)
    for configuration in all {
      let bytes = configuration.bytes
      #expect(FuzzConfiguration(bytes[0], bytes[1]) == configuration, "\(configuration) encodes as \(bytes)")
    }
  }

  @Test("each policy sets only byte 0's policy bits")
  func policyBits() {
    let field = UInt8((1 << FuzzConfiguration.policyReservedBits) - 1) << FuzzConfiguration.policyShift
    for policy in DMAPolicy.allCases {
      var configuration = FuzzConfiguration()
      configuration.policy = policy
      #expect(configuration.bytes[0] & ~field == FuzzConfiguration().bytes[0], "\(policy)")
      #expect(configuration.bytes[1] == FuzzConfiguration().bytes[1], "\(policy)")
    }
  }

  @Test("every pair of bytes decodes to a configuration whose canonical bytes decode to it again")
  func everyByteDecodes() {
    for byte0 in UInt8.min...UInt8.max {
      for byte1 in UInt8.min...UInt8.max {
        let configuration = FuzzConfiguration(byte0, byte1)
        let bytes = configuration.bytes
        if FuzzConfiguration(bytes[0], bytes[1]) != configuration {
          Issue.record("[\(byte0), \(byte1)] decodes to \(configuration), whose bytes \(bytes) decode otherwise")
        }
      }
    }
  }
}
