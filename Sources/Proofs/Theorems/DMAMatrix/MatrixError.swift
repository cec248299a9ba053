import Claims
import Spec

enum MatrixError: Error, CustomStringConvertible {
  case platform(String)
  var description: String {
    switch self {
    case .platform(let why): "matrix platform: \(why)"
    }
  }
}
