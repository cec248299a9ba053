/// How a DMA ended, from the safest to the most dangerous.
public enum DMAOutcome: String, Hashable, Sendable, Codable, CaseIterable {
  /// The data reached exactly the bytes backing the buffer.
  case ok
  /// A DMA error: mapping error, stream fault or abort, stage-2 fault. The
  /// driver sees it (the bus error of §8 `04085ec1ac`).
  case fault
  /// The device touched machine bytes that do not back the buffer, or the
  /// data did not arrive, and nothing reported it: the silent wrong page.
  case corruption
}
