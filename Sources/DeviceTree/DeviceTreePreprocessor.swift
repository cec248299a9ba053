import Foundation
import SystemIO

/// Device tree source as integrators have it: a board's `.dts` includes the
/// SoC's `.dtsi` and headers of constants with `#include`, and uses
/// `#define` macros. dtc itself does not run the C preprocessor; the Linux
/// kernel's dtbs rule does, before dtc, and so does this.
///
/// The kernel's rule (`cmd_dtc` and `dtc_cpp_flags`, `scripts/Makefile.lib`
/// up to the 2024 split, `scripts/Makefile.dtbs` after it — "kbuild: split
/// device tree build rules into scripts/Makefile.dtbs", read at torvalds/linux
/// 42d3b66d4c) runs `$(HOSTCC) -E -nostdinc -I <include-prefixes> -undef
/// -D__DTS__ -x assembler-with-cpp` on the `.dts`, then dtc on the result with
/// `-i` for the source's directory and the same include directories (for
/// dtc's own `/include/`). Why each flag matters here:
///
/// - `-nostdinc`: a tree sees only the directories it is given, never the
///   host's C headers;
/// - `-undef`: no predefined macros, or a node named `linux` or `unix`
///   would become `1`;
/// - `-D__DTS__`: headers shared with C (dt-bindings) test it;
/// - `-x assembler-with-cpp`: a line starting with `#address-cells` is not a
///   directive error, as it would be in C mode.
///
/// The preprocessor is `cpp` from `PATH` (GCC's, Debian's `cpp` package).
/// It runs only when the source has a preprocessor directive (a line
/// starting with `#include`, `#define`, `#if`…, see ``needsPreprocessor(_:)``),
/// so a plain `.dts` still needs only dtc and reaches it byte for byte.
/// (A directive only in a file reached through dtc's own `/include/` is not
/// preprocessed; the kernel's rule would preprocess it.)
///
/// cpp writes line markers (`# 12 "board.dts" 2`, GCC's "Preprocessor
/// Output" manual) and dtc reads them back (`dtc-lexer.l`, the rule for
/// `^"#"(line)?[ \t]+[0-9]+[ \t]+{STRING}` calling `srcpos_set_line()`,
/// dgibson/dtc read at 17119ab0a5; Debian's dtc 1.6.1 does), so dtc's
/// errors name the original file and line; a location that still names the
/// intermediate file (before the first marker) is mapped back by
/// ``LineMap``.
package enum DeviceTreePreprocessor {
  /// The directive names that make a source need cpp. `#address-cells`,
  /// `#iommu-cells` and the like are properties, not directives.
  static let directives: Set<String> = ["include", "define", "undef", "if", "ifdef", "ifndef", "elif", "else", "endif", "error", "line", "pragma"]

  /// Whether `source` has a line whose first non-blank character is `#`
  /// followed (after blanks) by a directive name that ends there.
  package static func needsPreprocessor(_ source: [UInt8]) -> Bool {
    var index = 0
    while index < source.count {
      // Start of a line: skip blanks.
      while index < source.count && (source[index] == 0x20 || source[index] == 0x09) { index += 1 }
      if index < source.count && source[index] == UInt8(ascii: "#") {
        var cursor = index + 1
        while cursor < source.count && (source[cursor] == 0x20 || source[cursor] == 0x09) { cursor += 1 }
        let start = cursor
        while cursor < source.count && isIdentifier(source[cursor]) { cursor += 1 }
        let word = String(decoding: source[start..<cursor], as: UTF8.self)
        // `#if-x` or `#include-foo` would be a property name, not a directive.
        let next = cursor < source.count ? source[cursor] : 0x0a
        if directives.contains(word) && next != UInt8(ascii: "-") && next != UInt8(ascii: ",") && next != UInt8(ascii: "=") { return true }
      }
      while index < source.count && source[index] != 0x0a { index += 1 }
      index += 1
    }
    return false
  }

  private static func isIdentifier(_ byte: UInt8) -> Bool {
    (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x30 && byte <= 0x39) || byte == 0x5f
  }

  /// The first executable named `cpp` on `PATH`, if any.
  package static func preprocessorPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
    ChildProcess.executable(named: "cpp", environment: environment)
  }

  /// cpp's arguments: the kernel's flags, `-I DIR` for each directory the
  /// user gives, and the file. GCC's driver does not accept `--` (it says
  /// "unrecognized command-line option"), so a relative name starting with
  /// `-` is passed as `./NAME`: then it can only be a file.
  static func arguments(file: String, includeDirectories: [String]) -> [String] {
    var arguments = ["-nostdinc", "-undef", "-D__DTS__", "-x", "assembler-with-cpp"]
    for directory in includeDirectories { arguments += ["-I", directory.hasPrefix("-") ? "./" + directory : directory] }
    return arguments + [file.hasPrefix("-") ? "./" + file : file]
  }

  /// Runs cpp on `file` and returns its output.
  /// - Throws: ``DeviceTreeError`` naming the file when cpp is not installed,
  ///   fails (with its diagnostics, which name file and line, on one line),
  ///   or runs too long or too large.
  package static func preprocess(
    file: String, includeDirectories: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
    timeout: Double = DeviceTreeSource.defaultTimeout
  ) throws(DeviceTreeError) -> [UInt8] {
    guard let cpp = preprocessorPath(environment: environment) else {
      throw DeviceTreeError(
        file: file, offset: nil,
        message: "the source has #include or #define lines, which need the C preprocessor cpp, which is not installed; install it (Debian/Ubuntu: apt-get install cpp) or pass a compiled .dtb")
    }
    let captured: ChildProcess.Captured
    do {
      captured = try ChildProcess.run(cpp, arguments(file: file, includeDirectories: includeDirectories), timeout: timeout, outputLimit: 64 << 20)
    } catch {
      throw DeviceTreeError(file: file, offset: nil, message: "cpp could not preprocess the source: \(error)")
    }
    if captured.termination == .exited(0) { return captured.output }
    let message = diagnostics(captured.errorOutput)
    throw DeviceTreeError(
      file: file, offset: nil,
      message: "cpp could not preprocess the source: " + (message.isEmpty ? "\(captured.termination)" : "\(message) (\(captured.termination))"))
  }

  /// GCC's diagnostics without the quoted source and caret lines (`    3 |
  /// #include …`, `      |          ^~~~`) or "compilation terminated.": the
  /// lines that name file, line and what is wrong, joined with "; ".
  static func diagnostics(_ bytes: [UInt8]) -> String {
    let lines = ChildProcess.text(bytes).split(whereSeparator: \.isNewline).map(String.init)
    let kept = lines.filter { line in
      let trimmed = line.drop { $0 == " " || $0 == "\t" }
      if trimmed.hasPrefix("|") { return false }
      if let bar = trimmed.firstIndex(of: "|"), trimmed[..<bar].allSatisfy({ $0.isNumber || $0 == " " }) { return false }
      return line != "compilation terminated."
    }
    return kept.joined(separator: "; ")
  }

  /// Where each line of cpp's output came from, read from its line markers
  /// (`# LINE "FILE" FLAGS…`, and `#line LINE "FILE"`).
  package struct LineMap: Sendable {
    /// For line n of the output (index n − 1), its file and line; nil for
    /// the marker lines themselves and lines before the first marker.
    package var origins: [(file: String, line: Int)?]

    package init(_ output: [UInt8]) {
      var origins: [(file: String, line: Int)?] = []
      var current: (file: String, line: Int)?
      for raw in output.split(separator: 0x0a, omittingEmptySubsequences: false) {
        let text = String(decoding: raw, as: UTF8.self)
        if let marker = Self.marker(text) {
          origins.append(nil)
          current = marker
          continue
        }
        origins.append(current)
        if let here = current { current = (here.file, here.line + 1) }
      }
      self.origins = origins
    }

    /// `# 12 "file"…` or `#line 12 "file"`: the next line is line 12 of file.
    static func marker(_ line: String) -> (file: String, line: Int)? {
      guard line.hasPrefix("#") else { return nil }
      var rest = line.dropFirst()
      if rest.hasPrefix("line") { rest = rest.dropFirst(4) }
      guard rest.first == " " else { return nil }
      rest = rest.drop { $0 == " " }
      let digits = rest.prefix { $0.isASCII && $0.isNumber }
      guard let number = Int(digits) else { return nil }
      rest = rest.dropFirst(digits.count).drop { $0 == " " }
      guard rest.first == "\"" else { return nil }
      var name = ""
      var escaped = false
      for character in rest.dropFirst() {
        if escaped {
          name.append(character)
          escaped = false
        } else if character == "\\" {
          escaped = true
        } else if character == "\"" {
          return (name, number)
        } else {
          name.append(character)
        }
      }
      return nil
    }

    /// Output line `line` (1-based), as file and line of the source.
    package func origin(ofLine line: Int) -> (file: String, line: Int)? {
      line >= 1 && line <= origins.count ? origins[line - 1] : nil
    }

    /// `message` with every `INTERMEDIATE:LINE` (dtc's `file:line.column`
    /// form too) replaced by the source's file and line, and any other
    /// mention of the intermediate file by `original`.
    package func restoring(_ message: String, intermediate: String, original: String) -> String {
      guard !intermediate.isEmpty else { return message }
      var result = ""
      var rest = Substring(message)
      while let range = rest.range(of: intermediate) {
        result += rest[..<range.lowerBound]
        rest = rest[range.upperBound...]
        if rest.first == ":", let digits = Optional(rest.dropFirst().prefix { $0.isASCII && $0.isNumber }), let number = Int(digits),
          let origin = origin(ofLine: number)
        {
          result += "\(origin.file):\(origin.line)"
          rest = rest.dropFirst(1 + digits.count)
        } else {
          result += original
        }
      }
      return result + rest
    }
  }
}
