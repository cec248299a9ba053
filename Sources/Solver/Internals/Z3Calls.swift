// Every call into libz3 lives in this file (swift-system's `Syscalls.swift`
// pattern): the rest of the module speaks Swift values only. After each call
// that can fail, the context's error code is read and turned into a thrown
// ``SolverError`` carrying Z3's own message.

internal import CZ3

/// Z3's default handler prints and exits the process; this one does nothing,
/// so the error code stays set and ``Context/raiseIfFailed()`` turns it into a
/// Swift error. A non-capturing closure converts to a C function pointer.
private let recordOnlyErrorHandler: @convention(c) (Z3_context?, Z3_error_code) -> Void = { _, _ in }

/// One reference to a Z3 AST (term or sort), released when the last Swift
/// value holding it goes away.
///
/// The context is held strongly: Z3 requires every AST to be released
/// before its context is deleted.
final class ASTReference {
  let context: Context
  let ast: Z3_ast

  init(context: Context, ast: Z3_ast) {
    self.context = context
    self.ast = ast
    Z3_inc_ref(context.raw, ast)
    context.liveReferences += 1
  }

  deinit {
    Z3_dec_ref(context.raw, ast)
    context.liveReferences -= 1
  }
}

/// Reference-counted Z3 objects that are not ASTs (solvers, models, params).
final class ObjectReference {
  enum Kind { case solver, model, params }
  let context: Context
  let kind: Kind
  let pointer: OpaquePointer

  init(context: Context, kind: Kind, pointer: OpaquePointer) {
    self.context = context
    self.kind = kind
    self.pointer = pointer
    switch kind {
    case .solver: Z3_solver_inc_ref(context.raw, pointer)
    case .model: Z3_model_inc_ref(context.raw, pointer)
    case .params: Z3_params_inc_ref(context.raw, pointer)
    }
    context.liveReferences += 1
  }

  deinit {
    switch kind {
    case .solver: Z3_solver_dec_ref(context.raw, pointer)
    case .model: Z3_model_dec_ref(context.raw, pointer)
    case .params: Z3_params_dec_ref(context.raw, pointer)
    }
    context.liveReferences -= 1
  }
}

// MARK: - Context lifetime and errors

extension Context {
  static func makeRawContext() -> Z3_context {
    let config = Z3_mk_config()
    Z3_set_param_value(config, "model", "true")
    let raw = Z3_mk_context_rc(config)!
    Z3_del_config(config)
    Z3_set_error_handler(raw, recordOnlyErrorHandler)
    return raw
  }

  static func deleteRawContext(_ raw: Z3_context) {
    Z3_del_context(raw)
  }

  /// Throws the error of the last Z3 call, if it failed.
  func raiseIfFailed() throws(SolverError) {
    let code = Z3_get_error_code(raw)
    guard code != Z3_OK else { return }
    let message = String(cString: Z3_get_error_msg(raw, code))
    throw SolverError(kind: SolverError.Kind(code, message: message), message: message)
  }

  /// Wraps the result of a Z3 constructor, throwing if the call failed.
  func own(_ ast: Z3_ast?) throws(SolverError) -> ASTReference {
    try raiseIfFailed()
    guard let ast else {
      throw SolverError(kind: .internal, message: "Z3 returned no term and no error")
    }
    return ASTReference(context: self, ast: ast)
  }

  func own(sort: Z3_sort?) throws(SolverError) -> ASTReference {
    try raiseIfFailed()
    guard let sort else {
      throw SolverError(kind: .internal, message: "Z3 returned no sort and no error")
    }
    return try own(Z3_sort_to_ast(raw, sort))
  }

  func symbol(_ name: String) -> Z3_symbol {
    Z3_mk_string_symbol(raw, name)
  }
}

// MARK: - Sorts

extension Context {
  func rawBoolSort() throws(SolverError) -> ASTReference {
    try own(sort: Z3_mk_bool_sort(raw))
  }

  func rawBitVectorSort(width: Int) throws(SolverError) -> ASTReference {
    try own(sort: Z3_mk_bv_sort(raw, UInt32(clamping: width)))
  }

  func rawArraySort(domain: Z3_ast, range: Z3_ast) throws(SolverError) -> ASTReference {
    try own(sort: Z3_mk_array_sort(raw, asSort(domain), asSort(range)))
  }

  func sortOf(_ ast: Z3_ast) throws(SolverError) -> ASTReference {
    try own(sort: Z3_get_sort(raw, ast))
  }

  func sortKind(_ sortAST: Z3_ast) -> Sort.Kind {
    let sort = asSort(sortAST)
    switch Z3_get_sort_kind(raw, sort) {
    case Z3_BOOL_SORT: return .bool
    case Z3_BV_SORT: return .bitVector(width: Int(Z3_get_bv_sort_size(raw, sort)))
    case Z3_ARRAY_SORT: return .array
    default: return .other
    }
  }

  func arrayDomainAndRange(_ sortAST: Z3_ast) throws(SolverError) -> (ASTReference, ASTReference) {
    let sort = asSort(sortAST)
    let domain = try own(sort: Z3_get_array_sort_domain(raw, sort))
    let range = try own(sort: Z3_get_array_sort_range(raw, sort))
    return (domain, range)
  }

  /// A sort held as an AST back as a sort. Z3 sorts are ASTs
  /// (`Z3_sort_to_ast` is a cast) and both import as `OpaquePointer`.
  func asSort(_ ast: Z3_ast) -> Z3_sort { ast }
}

// MARK: - Terms

extension Context {
  func rawBool(_ value: Bool) throws(SolverError) -> ASTReference {
    try own(value ? Z3_mk_true(raw) : Z3_mk_false(raw))
  }

  func rawNumeral(_ value: UInt64, sort: Z3_ast) throws(SolverError) -> ASTReference {
    try own(Z3_mk_unsigned_int64(raw, value, asSort(sort)))
  }

  func rawConstant(_ name: String, sort: Z3_ast) throws(SolverError) -> ASTReference {
    try own(Z3_mk_const(raw, symbol(name), asSort(sort)))
  }

  func rawFreshConstant(_ prefix: String, sort: Z3_ast) throws(SolverError) -> ASTReference {
    try own(Z3_mk_fresh_const(raw, prefix, asSort(sort)))
  }

  func rawConstantArray(domain: Z3_ast, value: Z3_ast) throws(SolverError) -> ASTReference {
    try own(Z3_mk_const_array(raw, asSort(domain), value))
  }

  func apply(_ operation: UnaryOperation, _ a: Z3_ast) throws(SolverError) -> ASTReference {
    let result: Z3_ast?
    switch operation {
    case .bitwiseNot: result = Z3_mk_bvnot(raw, a)
    case .negate: result = Z3_mk_bvneg(raw, a)
    case .logicalNot: result = Z3_mk_not(raw, a)
    case .extract(let high, let low):
      // Z3 4.8 accepts a reversed or out-of-range extract at construction
      // time and only fails later; check here so the error surfaces at once.
      if case .bitVector(let width) = try sortKind(sortOf(a).ast),
        !(0 <= low && low <= high && high < width)
      {
        throw SolverError(
          kind: .invalidArgument,
          message: "extract(\(high), \(low)) out of range for a bit-vector of width \(width)")
      }
      result = Z3_mk_extract(raw, UInt32(high), UInt32(low), a)
    case .zeroExtend(let bits): result = Z3_mk_zero_ext(raw, UInt32(clamping: bits), a)
    case .signExtend(let bits): result = Z3_mk_sign_ext(raw, UInt32(clamping: bits), a)
    }
    return try own(result)
  }

  func apply(_ operation: BinaryOperation, _ a: Z3_ast, _ b: Z3_ast) throws(SolverError) -> ASTReference {
    let result: Z3_ast?
    switch operation {
    case .add: result = Z3_mk_bvadd(raw, a, b)
    case .subtract: result = Z3_mk_bvsub(raw, a, b)
    case .multiply: result = Z3_mk_bvmul(raw, a, b)
    case .unsignedDivide: result = Z3_mk_bvudiv(raw, a, b)
    case .unsignedRemainder: result = Z3_mk_bvurem(raw, a, b)
    case .bitwiseAnd: result = Z3_mk_bvand(raw, a, b)
    case .bitwiseOr: result = Z3_mk_bvor(raw, a, b)
    case .bitwiseXor: result = Z3_mk_bvxor(raw, a, b)
    case .shiftLeft: result = Z3_mk_bvshl(raw, a, b)
    case .logicalShiftRight: result = Z3_mk_bvlshr(raw, a, b)
    case .arithmeticShiftRight: result = Z3_mk_bvashr(raw, a, b)
    case .concat: result = Z3_mk_concat(raw, a, b)
    case .unsignedLess: result = Z3_mk_bvult(raw, a, b)
    case .unsignedLessOrEqual: result = Z3_mk_bvule(raw, a, b)
    case .unsignedGreater: result = Z3_mk_bvugt(raw, a, b)
    case .unsignedGreaterOrEqual: result = Z3_mk_bvuge(raw, a, b)
    case .signedLess: result = Z3_mk_bvslt(raw, a, b)
    case .signedLessOrEqual: result = Z3_mk_bvsle(raw, a, b)
    case .signedGreater: result = Z3_mk_bvsgt(raw, a, b)
    case .signedGreaterOrEqual: result = Z3_mk_bvsge(raw, a, b)
    case .equal: result = Z3_mk_eq(raw, a, b)
    case .implies: result = Z3_mk_implies(raw, a, b)
    case .select: result = Z3_mk_select(raw, a, b)
    case .and, .or:
      result = withUnsafeTemporaryAllocation(of: Z3_ast?.self, capacity: 2) { buffer in
        buffer[0] = a
        buffer[1] = b
        return operation == .and
          ? Z3_mk_and(raw, 2, buffer.baseAddress) : Z3_mk_or(raw, 2, buffer.baseAddress)
      }
    }
    return try own(result)
  }

  func rawIfThenElse(_ c: Z3_ast, _ t: Z3_ast, _ e: Z3_ast) throws(SolverError) -> ASTReference {
    try own(Z3_mk_ite(raw, c, t, e))
  }

  func rawStore(_ array: Z3_ast, _ index: Z3_ast, _ value: Z3_ast) throws(SolverError) -> ASTReference {
    try own(Z3_mk_store(raw, array, index, value))
  }

  func rawSimplify(_ a: Z3_ast) throws(SolverError) -> ASTReference {
    try own(Z3_simplify(raw, a))
  }

  func rawText(_ a: Z3_ast) -> String {
    String(cString: Z3_ast_to_string(raw, a))
  }

  /// Z3's id of an AST; ids of freed ASTs are reused.
  func rawIdentifier(_ a: Z3_ast) -> UInt32 {
    Z3_get_ast_id(raw, a)
  }

  func rawIsIdentical(_ a: Z3_ast, _ b: Z3_ast) -> Bool {
    Z3_is_eq_ast(raw, a, b)
  }

  /// The value of a numeral or Boolean literal, or nil for anything else.
  func rawLiteralValue(_ a: Z3_ast) -> UInt64? {
    switch Z3_get_bool_value(raw, a) {
    case Z3_L_TRUE: return 1
    case Z3_L_FALSE: return 0
    default: break
    }
    guard Z3_is_numeral_ast(raw, a) else { return nil }
    var value: UInt64 = 0
    guard Z3_get_numeral_uint64(raw, a, &value) else { return nil }
    return value
  }
}

// MARK: - Solvers, parameters, models

extension Context {
  func rawSolver(logic: String?) throws(SolverError) -> ObjectReference {
    let solver = logic.map { Z3_mk_solver_for_logic(raw, symbol($0)) } ?? Z3_mk_solver(raw)
    try raiseIfFailed()
    guard let solver else { throw SolverError(kind: .internal, message: "Z3 returned no solver") }
    return ObjectReference(context: self, kind: .solver, pointer: solver)
  }

  func rawSetSolverParameters(
    _ solver: OpaquePointer, timeoutMilliseconds: UInt32?, randomSeed: UInt32
  ) throws(SolverError) {
    let params = ObjectReference(context: self, kind: .params, pointer: Z3_mk_params(raw))
    // Z3 treats a timeout of 0 as "none"; UInt32.max is its own "no timeout".
    Z3_params_set_uint(raw, params.pointer, symbol("timeout"), timeoutMilliseconds ?? UInt32.max)
    Z3_params_set_uint(raw, params.pointer, symbol("random_seed"), randomSeed)
    Z3_solver_set_params(raw, solver, params.pointer)
    try raiseIfFailed()
  }

  func rawAssert(_ solver: OpaquePointer, _ a: Z3_ast) throws(SolverError) {
    Z3_solver_assert(raw, solver, a)
    try raiseIfFailed()
  }

  func rawPush(_ solver: OpaquePointer) throws(SolverError) {
    Z3_solver_push(raw, solver)
    try raiseIfFailed()
  }

  func rawPop(_ solver: OpaquePointer) throws(SolverError) {
    Z3_solver_pop(raw, solver, 1)
    try raiseIfFailed()
  }

  func rawScopeCount(_ solver: OpaquePointer) -> Int {
    Int(Z3_solver_get_num_scopes(raw, solver))
  }

  enum RawCheckResult { case sat(ObjectReference), unsat, unknown(String) }

  func rawCheck(_ solver: OpaquePointer) throws(SolverError) -> RawCheckResult {
    let result = Z3_solver_check(raw, solver)
    // A check interrupted by the timeout sets Z3_OK and answers L_UNDEF;
    // any other error code is a real failure.
    try raiseIfFailed()
    switch result {
    case Z3_L_FALSE:
      return .unsat
    case Z3_L_TRUE:
      let model = Z3_solver_get_model(raw, solver)
      try raiseIfFailed()
      guard let model else { throw SolverError(kind: .internal, message: "sat without a model") }
      return .sat(ObjectReference(context: self, kind: .model, pointer: model))
    default:
      return .unknown(String(cString: Z3_solver_get_reason_unknown(raw, solver)))
    }
  }

  func rawSolverText(_ solver: OpaquePointer) -> String {
    String(cString: Z3_solver_to_string(raw, solver))
  }

  func rawEvaluate(_ model: OpaquePointer, _ a: Z3_ast) throws(SolverError) -> ASTReference {
    var out: Z3_ast?
    let ok = Z3_model_eval(raw, model, a, true, &out)
    try raiseIfFailed()
    guard ok, let out else {
      throw SolverError(kind: .invalidArgument, message: "the model cannot evaluate \(rawText(a))")
    }
    return ASTReference(context: self, ast: out)
  }

  func rawModelText(_ model: OpaquePointer) -> String {
    String(cString: Z3_model_to_string(raw, model))
  }

  func rawModelConstants(_ model: OpaquePointer) throws(SolverError) -> [(name: String, term: ASTReference)] {
    var constants: [(name: String, term: ASTReference)] = []
    for index in 0..<Z3_model_get_num_consts(raw, model) {
      let declaration = Z3_model_get_const_decl(raw, model, index)
      let name = String(cString: Z3_get_symbol_string(raw, Z3_get_decl_name(raw, declaration)))
      let application = try own(Z3_mk_app(raw, declaration, 0, nil))
      constants.append((name, application))
    }
    return constants
  }
}

extension SolverError.Kind {
  init(_ code: Z3_error_code, message: String) {
    switch code {
    // Z3 4.8 raises ill-sorted applications as a plain exception whose text
    // says the argument "does not match declaration".
    case Z3_EXCEPTION where message.contains("does not match declaration") || message.contains("Sort mismatch"):
      self = .sortMismatch
    case Z3_SORT_ERROR: self = .sortMismatch
    case Z3_IOB: self = .indexOutOfBounds
    case Z3_INVALID_ARG: self = .invalidArgument
    case Z3_PARSER_ERROR: self = .parser
    case Z3_NO_PARSER: self = .parser
    case Z3_INVALID_PATTERN: self = .invalidArgument
    case Z3_MEMOUT_FAIL: self = .outOfMemory
    case Z3_FILE_ACCESS_ERROR: self = .fileAccess
    case Z3_INVALID_USAGE: self = .invalidUsage
    case Z3_EXCEPTION: self = .exception
    default: self = .internal
    }
  }
}

extension Context {
  /// The version of the libz3 this program runs with (not the headers it
  /// was built against): `4.8.12.0`.
  package static var z3Version: String {
    var major: UInt32 = 0
    var minor: UInt32 = 0
    var build: UInt32 = 0
    var revision: UInt32 = 0
    Z3_get_version(&major, &minor, &build, &revision)
    return "\(major).\(minor).\(build).\(revision)"
  }
}
