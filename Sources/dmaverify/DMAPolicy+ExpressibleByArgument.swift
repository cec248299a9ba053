import ArgumentParser
import Spec

/// `--policy` takes a policy by its scenario name (``DMAPolicy``'s raw
/// value), so that a policy is spelled the same on the command line, in a
/// scenario's `linux` statement and in a matrix cell's name; the help and a
/// bad value's error list `DMAPolicy.allCases`.
extension DMAPolicy: ExpressibleByArgument {}
