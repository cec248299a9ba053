import Spec
import Testing

@Suite("Xen version")
struct XenVersionTests {
  @Test("names parse and print back", arguments: ["4.12", "4.14", "4.15", "4.20", "4.21"])
  func roundTrip(name: String) throws {
    let version = try #require(XenVersion(name: name))
    #expect(version.name == name)
  }

  @Test("unsupported or malformed names are refused", arguments: ["4.11", "4.22", "5.0", "4", "4.", "4.015", "4.1a", "", "4.15.1", "v4.15"])
  func refused(name: String) {
    #expect(XenVersion(name: name) == nil)
  }

  @Test("§8: 04085ec1ac is in 4.15; 4.12–4.14 have the broken predicate")
  func grantPredicate() throws {
    for minor in 12...14 {
      #expect(try #require(XenVersion(name: "4.\(minor)")).grantIOMMUMapping == .before04085ec1ac)
    }
    for minor in 15...21 {
      #expect(try #require(XenVersion(name: "4.\(minor)")).grantIOMMUMapping == .after04085ec1ac)
    }
  }

  @Test("§5, §2.3: colouring from 4.20, direct-mapped domUs from 4.17")
  func features() {
    #expect(!XenVersion.v4_15.hasLLCColouring && XenVersion.v4_20.hasLLCColouring)
    #expect(!XenVersion.v4_15.allowsDirectMappedDomU && XenVersion.v4_17.allowsDirectMappedDomU)
    #expect(XenVersion.v4_14 < .v4_15 && XenVersion.latest.name == "4.21")
  }
}
