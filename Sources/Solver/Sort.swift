/// A Z3 sort: Boolean, a bit-vector width, or an array.
package struct Sort: CustomStringConvertible {
  /// What kind of sort this is.
  package enum Kind: Equatable, Sendable {
    case bool
    case bitVector(width: Int)
    case array
    case other
  }

  let reference: ASTReference

  init(_ reference: ASTReference) {
    self.reference = reference
  }

  package var kind: Kind { reference.context.sortKind(reference.ast) }

  /// The width of a bit-vector sort, nil for any other sort.
  package var bitVectorWidth: Int? {
    if case .bitVector(let width) = kind { return width }
    return nil
  }

  /// Structural identity (Z3 hash-conses sorts).
  package func isIdentical(to other: Sort) -> Bool {
    reference.context === other.reference.context
      && reference.context.rawIsIdentical(reference.ast, other.reference.ast)
  }

  package var description: String { reference.context.rawText(reference.ast) }
}
