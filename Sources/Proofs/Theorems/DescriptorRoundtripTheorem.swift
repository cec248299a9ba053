import Spec
import SymbolicWord

/// `descriptor.roundtrip`: for every p2m type, level and hardware-valid
/// bit, and every frame, the field readers give back what the encoder put
/// in (fact sheet §1.1 permissions, §1.2 layout): the frame, the software
/// type, S2AP, XN, MemAttr, SH, AF = 1, contiguous = 0, valid, and leaf at
/// the level.
enum DescriptorRoundtripTheorem {
  static func theorem(
    encoder: @escaping @Sendable (SymbolicWord, P2MType, Int, Bool) -> SymbolicWord = { frame, type, level, valid in
      XenDescriptor.leaf(frameAddress: frame, type: type, level: level, hardwareValid: valid)
    }
  ) -> Theorem {
    Theorem(name: "descriptor.roundtrip", summary: "encode then decode every p2m type, level and valid bit gives back frame, type and permissions") { session in
      var findings: [Finding] = []
      for type in P2MType.allCases {
        for level in 1...3 {
          for valid in [true, false] {
            let frame = try session.word("frame")
            let address = frame << pageShift
            let descriptor = encoder(address, type, level, valid)
            let permissions = type.permissions
            func flag(_ condition: SymbolicBool, _ expected: Bool) -> SymbolicBool { expected ? condition : !condition }
            let claim =
              XenDescriptor.outputBase(descriptor) == address
              && XenDescriptor.softwareType(descriptor) == UInt64(type.rawValue)
              && flag(XenDescriptor.read(descriptor), permissions.read)
              && flag(XenDescriptor.write(descriptor), permissions.write)
              && flag(XenDescriptor.executeNever(descriptor), !permissions.execute)
              && XenDescriptor.memoryAttributes(descriptor) == type.memoryAttributes
              && XenDescriptor.shareability(descriptor) == type.shareability
              && XenDescriptor.accessFlag(descriptor) && !XenDescriptor.contiguous(descriptor)
              && flag(XenDescriptor.isValid(descriptor), valid)
              && XenDescriptor.isMapping(descriptor, level: level)
            // Frames below 2^36 (a 48-bit PA), aligned to the level's block.
            let alignment = UInt64(1) << UInt64(9 * (3 - level))
            let hypotheses = [frame < UInt64(1) << 36, (frame & (alignment - 1)) == 0]
            findings.append(
              try session.decide("descriptor.roundtrip[\(type.xenName),L\(level),\(valid ? "valid" : "hw-invalid")]", claim: claim, hypotheses: hypotheses) { model in
                let value = try model.value(of: frame.term)
                return ("frame \(hex(value)) decodes differently", nil, nil, ["frame": value])
              })
          }
        }
      }
      return findings
    }
  }
}
