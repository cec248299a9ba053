import Spec
import Testing

@Suite("Concrete word")
struct WordTests {
  @Test("shifts by 64 or more give 0, as bvshl and bvlshr do")
  func saturatingShifts() {
    let x: UInt64 = 0xDEAD_BEEF
    #expect(x.shiftedLeft(by: 64) == 0)
    #expect(x.logicalShiftedRight(by: 200) == 0)
    #expect(UInt64.max.arithmeticShiftedRight(by: 64) == .max)
    #expect((UInt64(1) << 63).arithmeticShiftedRight(by: 4) == 0xF800_0000_0000_0000)
  }

  @Test("field operations")
  func fields() {
    let x: UInt64 = 0x0123_4567_89AB_CDEF
    #expect(x.extract(high: 15, low: 8) == 0xCD)
    #expect(x.extract(high: 63, low: 0) == x)
    #expect(UInt64(0xAB).concat(low: 0xCDEF, lowWidth: 16) == 0xAB_CDEF)
    #expect(UInt64(0xAB).concat(low: 0xFFFF_CDEF, lowWidth: 16) == 0xAB_CDEF)
    #expect(x.zeroExtended(fromWidth: 12) == 0xDEF)
    #expect(UInt64(0x800).signExtended(fromWidth: 12) == 0xFFFF_FFFF_FFFF_F800)
    #expect(UInt64(0x7FF).signExtended(fromWidth: 12) == 0x7FF)
    #expect(bitMask(high: 47, low: 12) == 0x0000_FFFF_FFFF_F000)
  }

  @Test("generic operators on UInt64 mean the integer operators")
  func genericOperators() {
    func viaProtocol<W: Word>(_ a: W, _ b: W) -> (W, W, W.Condition, W.Condition) {
      (a &+ b, (a & 0xFF) | (b << 8), a < b, a.slt(b))
    }
    let (sum, packed, less, signedLess) = viaProtocol(UInt64.max, 2)
    #expect(sum == 1)
    #expect(packed == 0x2FF)
    #expect(less == false)
    #expect(signedLess == true)
  }

  /// Fact sheet §7.1: L1 block OA[47:30], L2 OA[47:21], L3 OA[47:12]; low bits from the IPA.
  @Test("leaf output address: examples at each level (§7.1)")
  func leafOutputAddressExamples() {
    // Attribute bits (AF, SH, S2AP, MemAttr, valid), XN and the software
    // type must not leak into the address.
    let attributes: UInt64 = (1 << 54) | (0xF << 55) | 0x7FF
    let ipa: UInt64 = 0x0000_0012_3456_789A
    #expect(leafOutputAddress(descriptor: 0x0000_0080_0000_0000 | attributes, inputAddress: ipa, level: 1) == 0x0000_0080_3456_789A)
    #expect(leafOutputAddress(descriptor: 0x0000_0080_0020_0000 | attributes, inputAddress: ipa, level: 2) == 0x0000_0080_0036_789A)
    #expect(leafOutputAddress(descriptor: 0x0000_0080_0020_3000 | attributes, inputAddress: ipa, level: 3) == 0x0000_0080_0020_389A)
    // Bits 51:48 are RES0 for a 48-bit output address and are dropped.
    #expect(leafOutputAddress(descriptor: 0x000F_0000_0000_1000, inputAddress: 0, level: 3) == 0x1000)
  }

  @Test("SplitMix64 repeats for a seed")
  func seededGenerator() {
    var a = SplitMix64(seed: 42)
    var b = SplitMix64(seed: 42)
    #expect((0..<8).map { _ in a.next() } == (0..<8).map { _ in b.next() })
  }
}
