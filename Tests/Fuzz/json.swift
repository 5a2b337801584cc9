// The strict JSON reader (FascicoloJSON): JSON.parse, JSON.rawMembers, JSON.visitMembers.
// Hostile bytes must be refused with Malformed, never trap; and what is accepted must be read
// the same way by all three entry points and survive a write and a read unchanged.
import FascicoloJSON

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = bytes(data, size)
    let parsed = try? JSON.parse(input)

    if let parsed {
        // Written compactly and read again: the same value, and the same bytes once more.
        let written = parsed.bytes
        guard let again = try? JSON.parse(written) else {
            check(false, "the writer's bytes are not read back: \(parsed.compact)")
            return 0
        }
        check(again == parsed, "read, written and read again differs: \(parsed.compact)")
        check(again.bytes == written, "writing is not deterministic")
        // A slice of the input (another collection type, copied) reads the same.
        check((try? JSON.parse(input[...])) == parsed, "a slice reads differently")
    }

    // rawMembers: on an object the strict reader accepts, the same names in order, each value's
    // bytes read alone giving the member's value.
    let raw = try? JSON.rawMembers(input)
    if let members = parsed?.members {
        check(raw != nil, "rawMembers refuses an object JSON.parse accepts")
        if let raw {
            check(raw.map(\.key) == members.map(\.key), "rawMembers names differ")
            for (rawMember, member) in zip(raw, members) {
                check((try? JSON.parse(rawMember.value)) == member.value, "a raw member's bytes read differently")
            }
        }
    } else if parsed != nil {
        check(raw == nil, "rawMembers accepts a value that is not an object")
    }

    // visitMembers: build every value, then step over every value, then a mix the input chooses.
    for mode in 0..<3 {
        var built: [JSON] = []
        var names: [[UInt8]] = []
        var index = 0
        let visited: Bool = input.withUnsafeBytes { buffer in
            do {
                try JSON.visitMembers(buffer) { (name, value) throws(JSON.Malformed) in
                    names.append(Array(name))
                    let build = mode == 0 || (mode == 2 && input.isEmpty == false && input[index % input.count] & 1 == 0)
                    index += 1
                    if build { built.append(try value.build()) } else { try value.skip() }
                }
                return true
            } catch {
                return false
            }
        }
        guard let members = parsed?.members else { continue }
        // What the strict reader accepts, the visitor accepts (it checks less, never more).
        check(visited, "visitMembers refuses an object JSON.parse accepts (mode \(mode))")
        check(names.count == members.count, "visitMembers saw \(names.count) members, not \(members.count)")
        if mode == 0 {
            check(built == members.map(\.value), "visitMembers built different values")
            for (name, member) in zip(names, members) where !name.contains(UInt8(ascii: "\\")) {
                check(name == Array(member.key.utf8), "visitMembers gave a different raw name")
            }
        }
    }
    return 0
}
