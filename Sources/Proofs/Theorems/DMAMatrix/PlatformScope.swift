import Claims
import Spec

/// Which platforms a matrix claim is decided for.
enum PlatformScope: String, Sendable {
  /// The reference platform (``MatrixPlatform/reference(_:)``) only: the
  /// platform words are constants.
  case reference
  /// Every platform of the class: the platform words are variables under
  /// the class's hypotheses.
  case everyPlatform = "every-platform"
}
