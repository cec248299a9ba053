import Foundation
import Testing

@testable import DeviceTree

/// The C preprocessor step before dtc: when it runs, with which arguments,
/// and how its line markers map dtc's locations back to the sources.
@Suite("DTS through cpp")
struct PreprocessorTests {
  @Test("cpp runs for #include, #define and #if lines, not for #address-cells or #iommu-cells properties")
  func directives() {
    func needs(_ text: String) -> Bool { DeviceTreePreprocessor.needsPreprocessor(Array(text.utf8)) }
    #expect(needs("/dts-v1/;\n#include \"soc.dtsi\"\n/ { };\n"))
    #expect(needs("/dts-v1/;\n\t#define BASE 0x80000000\n"))
    #expect(needs("# include <x.h>\n"))
    #expect(needs("#ifdef FOO\n#endif\n"))
    #expect(!needs("/dts-v1/;\n/ {\n\t#address-cells = <1>;\n\t#iommu-cells = <1>;\n\t#interrupt-cells = <3>;\n};\n"))
    #expect(!needs("/dts-v1/;\n/include/ \"soc.dtsi\"\n"))
    #expect(!needs("/ { prop = \"#include\"; };\n"))
    #expect(!needs("/ { #if-cells = <1>; };\n"))
  }

  @Test("cpp gets the kernel's flags, -I for each directory, and a name starting with '-' as ./NAME (GCC's driver has no '--')")
  func arguments() {
    #expect(
      DeviceTreePreprocessor.arguments(file: "board.dts", includeDirectories: ["include", "/abs"])
        == ["-nostdinc", "-undef", "-D__DTS__", "-x", "assembler-with-cpp", "-I", "include", "-I", "/abs", "board.dts"])
    #expect(DeviceTreePreprocessor.arguments(file: "-o/tmp/x.dts", includeDirectories: ["-dir"]).suffix(3) == ["-I", "./-dir", "./-o/tmp/x.dts"])
  }

  @Test("line markers map each output line to its file and line")
  func lineMap() {
    let output = """
      # 0 "board.dts"
      # 0 "<built-in>"
      # 1 "board.dts"
      /dts-v1/;
      # 1 "inc/soc.dtsi" 1
      / {
       node { prop = <1 ; };
      };
      # 3 "board.dts" 2
      / { };
      """
    let map = DeviceTreePreprocessor.LineMap(Array(output.utf8))
    #expect(map.origin(ofLine: 4)! == ("board.dts", 1))
    #expect(map.origin(ofLine: 7)! == ("inc/soc.dtsi", 2))
    #expect(map.origin(ofLine: 10)! == ("board.dts", 3))
    #expect(map.origin(ofLine: 1) == nil)
    #expect(map.origin(ofLine: 99) == nil)
    #expect(
      map.restoring("Error: /tmp/d/preprocessed.dts:7.15-16 syntax error", intermediate: "/tmp/d/preprocessed.dts", original: "board.dts")
        == "Error: inc/soc.dtsi:2.15-16 syntax error")
    #expect(
      map.restoring("FATAL ERROR: Couldn't open \"/tmp/d/preprocessed.dts\"", intermediate: "/tmp/d/preprocessed.dts", original: "board.dts")
        == "FATAL ERROR: Couldn't open \"board.dts\"")
  }

  @Test("a marker's file name may hold escaped quotes; #line markers count too")
  func markerForms() {
    #expect(DeviceTreePreprocessor.LineMap.marker(#"# 12 "a\"b.dtsi" 1"#)! == (#"a"b.dtsi"#, 12))
    #expect(DeviceTreePreprocessor.LineMap.marker(#"#line 3 "x.dts""#)! == ("x.dts", 3))
    #expect(DeviceTreePreprocessor.LineMap.marker("#address-cells = <1>;") == nil)
    #expect(DeviceTreePreprocessor.LineMap.marker(#"# 12 "unterminated"#) == nil)
  }

  @Test("GCC's diagnostics keep the located lines, not the quoted source, the carets or 'compilation terminated.'")
  func diagnostics() {
    let stderr = """
      In file included from board.dts:9:
      soc.dtsi:4:10: fatal error: irq.h: No such file or directory
          4 | #include <irq.h>
            |          ^~~~~~~
      compilation terminated.
      """
    #expect(
      DeviceTreePreprocessor.diagnostics(Array(stderr.utf8))
        == "In file included from board.dts:9:; soc.dtsi:4:10: fatal error: irq.h: No such file or directory")
  }

  @Test("without cpp on PATH, preprocessing says to install cpp or pass a DTB")
  func missing() {
    #expect(DeviceTreePreprocessor.preprocessorPath(environment: ["PATH": "/nonexistent"]) == nil)
    #expect(throws: DeviceTreeError.self) {
      try DeviceTreePreprocessor.preprocess(file: "board.dts", includeDirectories: [], environment: ["PATH": "/nonexistent"])
    }
  }
}
