#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Writing an output file (a scenario, a report, expectations) so that it
/// never writes into something that is not a file: the text goes to a new
/// file beside the target, which is then renamed over it. A reader never
/// sees half a file, and a device node, FIFO or directory at the path is
/// refused, not written into or replaced (`--scenario /dev/full` run as
/// root once replaced the device with a text file).
///
/// A symbolic link at the path is refused too, not followed: a link left
/// in a shared directory must not redirect dmaverify's output to a file of
/// the link owner's choosing, and replacing the link by a file would
/// surprise whoever made it. Links in the directories above are followed.
package enum OutputFile {
  package struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
    package var path: String
    package var reason: String
    package var description: String { description(writing: "the file") }

    /// `PATH: error: cannot write WHAT: REASON`.
    package func description(writing what: String) -> String { "\(path): error: cannot write \(what): \(reason)" }

    package init(path: String, reason: String) {
      self.path = path
      self.reason = reason
    }
  }

  /// Whether `path` may be written: absent, or a regular file, in a
  /// directory where a file can be created. Checks what ``write(_:to:)``
  /// would refuse, so a command can say so before any work.
  package static func check(_ path: String) throws(Failure) {
    try refuseExisting(path)
    let probe = try createTemporary(besides: path)
    close(probe.fd)
    unlink(probe.path)
  }

  /// Writes `bytes` to `path` by create-and-rename.
  package static func write(_ bytes: [UInt8], to path: String) throws(Failure) {
    try refuseExisting(path)
    let temporary = try createTemporary(besides: path)
    var written = 0
    while written < bytes.count {
      let count = bytes[written...].withUnsafeBytes { Glibc.write(temporary.fd, $0.baseAddress, $0.count) }
      if count < 0 {
        if errno == EINTR { continue }
        let reason = errnoText()
        close(temporary.fd)
        unlink(temporary.path)
        throw Failure(path: path, reason: reason)
      }
      written += count
    }
    if close(temporary.fd) != 0 {
      let reason = errnoText()
      unlink(temporary.path)
      throw Failure(path: path, reason: reason)
    }
    // Checked again just before the rename, which replaces the directory
    // entry (never writes through it) whatever it has become.
    do { try refuseExisting(path) } catch {
      unlink(temporary.path)
      throw error
    }
    guard rename(temporary.path, path) == 0 else {
      let reason = errnoText()
      unlink(temporary.path)
      throw Failure(path: path, reason: reason)
    }
  }

  package static func write(_ text: String, to path: String) throws(Failure) {
    try write(Array(text.utf8), to: path)
  }

  /// Throws unless nothing, or a regular file, is at `path` (not following
  /// a symbolic link).
  private static func refuseExisting(_ path: String) throws(Failure) {
    guard !path.isEmpty else { throw Failure(path: path, reason: "the path is empty") }
    var status = stat()
    guard lstat(path, &status) == 0 else {
      if errno == ENOENT { return }
      throw Failure(path: path, reason: errnoText())
    }
    let kind: String
    switch status.st_mode & S_IFMT {
    case S_IFREG: return
    case S_IFLNK: kind = "a symbolic link, which dmaverify does not follow or replace; give the path of its target"
    case S_IFDIR: kind = "a directory"
    case S_IFCHR: kind = "a character device, which dmaverify does not write to or replace"
    case S_IFBLK: kind = "a block device, which dmaverify does not write to or replace"
    case S_IFIFO: kind = "a FIFO (named pipe), which dmaverify does not write to or replace"
    case S_IFSOCK: kind = "a socket"
    default: kind = "not a regular file"
    }
    throw Failure(path: path, reason: "it is \(kind)")
  }

  /// A new, empty file in `path`'s directory (so that the rename stays on
  /// one file system), readable as a normal new file would be.
  private static func createTemporary(besides path: String) throws(Failure) -> (fd: Int32, path: String) {
    let slash = path.lastIndex(of: "/")
    let directory = slash.map { String(path[...$0]) } ?? ""
    let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
    var template = Array("\(directory).\(name).XXXXXX".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard fd >= 0 else {
      throw Failure(path: path, reason: errnoText() + " (making a new file in \(directory.isEmpty ? "." : String(directory.dropLast())))")
    }
    // mkstemp makes 0600; a written report is as readable as any new file.
    let mask = umask(0)
    umask(mask)
    fchmod(fd, 0o666 & ~mask)
    return (fd, template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
  }

  private static func errnoText() -> String { String(cString: strerror(errno)) }
}
