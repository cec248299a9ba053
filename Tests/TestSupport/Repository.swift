import Foundation

/// The package's root directory, found from this file's place in it
/// (Tests/TestSupport/), for tests that read the committed corpus,
/// fixtures or sources, or run the built tool from the root.
package let repository = URL(fileURLWithPath: #filePath)
  .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
