/// The SMMU architecture version of an instance. Xen drives v1/v2 with
/// `drivers/passthrough/arm/smmu.c` and v3 with `smmu-v3.c` (fact sheet §6).
public enum SMMUVersion: String, Hashable, Sendable, CaseIterable, Codable {
  case v2
  case v3
}
