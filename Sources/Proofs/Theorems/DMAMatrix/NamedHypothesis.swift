import Claims
import Spec

/// A range or a boot invariant a claim assumes, by name, so that a report
/// can say what was assumed and each can be checked satisfiable alone.
struct NamedHypothesis<Condition> {
  var name: String
  var holds: Condition
}
