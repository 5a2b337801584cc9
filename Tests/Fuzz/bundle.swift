// Person bundles (Formats.md, "Person bundles") come from anywhere — a court, a person, a mail —
// and are read by `fascicolo bundle verify` (FascicoloOperations.BundleVerification) and `bundle
// show` (FascicoloBundle.PersonBundle.parse). Any bytes must give an answer, never a trap; a
// bundle that parses reads back the same after it is written out again; and nothing but a
// genuine bundle verifies (the seeds are genuine ones, so the fuzzer starts from deep inside).
import FascicoloBundle
import FascicoloOperations

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = bytes(data, size)
    if let bundle = try? PersonBundle.parse(input) {
        let again = try? PersonBundle.parse(bundle.json)
        check(again == bundle, "a parsed bundle written out reads back differently")
    }
    if let report = try? BundleVerification.verify(input, key: nil, witnesses: []) {
        // What verifies names its person and the checkpoint's size; the seeds are this shape.
        check(!report.person.isEmpty && report.size > 0, "a verified bundle without a person or a checkpoint")
    }
    return 0
}
