import FascicoloStorage
import FascicoloTesting
import Foundation
import Glibc
import Testing

@testable import FascicoloLedger

/// Damaged storage is reported, never trusted and never a crash: `fascicolo verify` on copies of
/// a generated store, truncated or with one byte flipped anywhere (seeded), always ends with
/// exit 0 or 1 and a report — never a signal, never exit 2 — and the daemon's checks see it too.
@Suite struct StoreDamageTests {
    static let seed: UInt64 = 0xF11B_2026

    /// A log large enough for multi-level B-trees: 600 entries over 30 streams, idempotency keys,
    /// checkpoints every 10.
    func buildLog(in directory: String) async throws {
        let ledger = try Ledger.open(directory: directory, configuration: testConfiguration(noSync: true))
        for index in 0..<600 {
            _ = try await ledger.append(
                AppendRequest(
                    stream: "case-\(index % 30)",
                    events: [event(#"{"n":\#(index),"note":"\#(String(repeating: "x", count: index % 90))"}"#)],
                    idempotencyKey: "request-\(index)", author: "uid:1/test"))
        }
        ledger.close()
    }

    /// Runs `fascicolo` and tells a signal apart from an exit status.
    static func fascicolo(_ arguments: [String]) throws -> (status: Int32, signaled: Bool, output: String) {
        let output = "/tmp/fascicolo-damage-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(output) }
        let pid = try spawn(productsDirectory() + "/fascicolo", arguments, outputFile: output)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        let signal = status & 0x7F
        return (signal == 0 ? (status >> 8) & 0xFF : signal, signal != 0, readFile(output))
    }

    static func copyDirectory(_ from: String, _ to: String) throws {
        try? FileManager.default.removeItem(atPath: to)
        try FileManager.default.createDirectory(atPath: to, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: from) where name != "lock.mdb" {
            try FileManager.default.copyItem(atPath: from + "/" + name, toPath: to + "/" + name)
        }
    }

    @Test func truncatedStoresAreReportedNotFaulted() async throws {
        try await withTemporaryDirectory { directory in
            let original = directory + "/original"
            let copy = directory + "/copy"
            try await buildLog(in: original)
            let size = try #require(try FileManager.default.attributesOfItem(atPath: original + "/data.mdb")[.size] as? Int)
            // A cut that removes only free pages leaves a healthy store (LMDB need not write pages
            // it frees): then verify passes. Any other is reported, never a crash.
            for cut in [size - 1, size - 4_096, 3 * 4_096, 8_192, 100, 0] {
                try Self.copyDirectory(original, copy)
                #expect(truncate(copy + "/data.mdb", off_t(cut)) == 0)
                let result = try Self.fascicolo(["verify", copy])
                #expect(!result.signaled && (result.status == 1 || (result.status == 0 && cut >= size - 4_096)), "cut at \(cut): \(result)")
                if result.status == 1 {
                    #expect(
                        result.output.contains("FAILED")
                            && (result.output.contains("truncated") || result.output.contains("damaged")
                                || result.output.contains("empty") || result.output.contains("meta page")),
                        "cut at \(cut): \(result.output)")
                }
            }
        }
    }

    @Test func singleByteFlipsNeverCrashTheVerifier() async throws {
        try await withTemporaryDirectory { directory in
            let original = directory + "/original"
            let copy = directory + "/copy"
            try await buildLog(in: original)
            #expect(try Self.fascicolo(["verify", original]).status == 0)
            let size = try #require(try FileManager.default.attributesOfItem(atPath: original + "/data.mdb")[.size] as? Int)
            var random = SeededGenerator(seed: Self.seed)
            var outcomes: [String: Int] = [:]
            let flips = 150
            for flip in 0..<flips {
                let offset = Int.random(in: 0..<size, using: &random)
                let mask = UInt8.random(in: 1...255, using: &random)
                try Self.copyDirectory(original, copy)
                let descriptor = open(copy + "/data.mdb", O_RDWR)
                var byte: UInt8 = 0
                #expect(pread(descriptor, &byte, 1, off_t(offset)) == 1)
                byte ^= mask
                #expect(pwrite(descriptor, &byte, 1, off_t(offset)) == 1)
                close(descriptor)
                let result = try Self.fascicolo(["verify", copy])
                #expect(
                    !result.signaled && (result.status == 0 || result.status == 1),
                    "seed \(Self.seed) flip \(flip) at offset \(offset) mask \(mask): \(result)")
                let kind =
                    result.status == 0
                    ? "passed (unused bytes)"
                    : result.output.contains("structure is damaged")
                        ? "structure damage reported" : "named as failed"
                outcomes[kind, default: 0] += 1
            }
            print("single-byte flips (seed \(Self.seed), \(flips) flips in a \(size)-byte store): \(outcomes)")
            #expect((outcomes["named as failed"] ?? 0) + (outcomes["structure damage reported"] ?? 0) > flips / 4)
        }
    }

    /// An older data.mdb put back (or LMDB falling back to an older root) loses acknowledged
    /// entries without any verifier noticing from the file alone; checkpoints.log remembers the
    /// checkpoints signed since, so the ledger refuses to open and verify fails.
    @Test func aRolledBackLogIsRefusedAtOpen() async throws {
        try await withTemporaryDirectory { directory in
            let data = directory + "/data"
            let older = directory + "/older"
            let ledger = try Ledger.open(directory: data, configuration: testConfiguration(noSync: true))
            for index in 0..<40 {
                if index == 20 {
                    #expect(mkdir(older, 0o700) == 0)
                    try ledger.store.environment.copy(to: older, compact: false)
                }
                _ = try await ledger.append(AppendRequest(stream: "case-\(index % 4)", events: [event("payload \(index)")], author: "t"))
            }
            ledger.close()
            let (notes, torn) = try CheckpointFile.read(directory: data)
            #expect(notes.count >= 4 && torn == 0)
            #expect(rename(older + "/data.mdb", data + "/data.mdb") == 0)
            #expect { try Ledger.open(directory: data, configuration: testConfiguration(noSync: true)) } throws: {
                "\($0)".contains("rolled back")
            }
            #expect { try Verifier.verify(directory: data) } throws: {
                ($0 as? Verifier.Failure)?.problem.contains("entries were removed") == true
            }
            // A record torn by a crash mid-append is cut off; the whole ones still count.
            let path = data + "/" + CheckpointFile.name
            let descriptor = open(path, O_WRONLY | O_APPEND)
            _ = write(descriptor, "123\npartial", 11)
            close(descriptor)
            #expect(try CheckpointFile.read(directory: data).tornBytes == 11)
        }
    }

    /// One byte of the newest meta page's transaction id makes LMDB open the previous root and
    /// silently drop the last commit; the meta pages' ids must be consecutive with the even one
    /// on page 0, so verify (and the daemon's open) report it.
    @Test func aChangedMetaTransactionIdIsReported() async throws {
        try await withTemporaryDirectory { directory in
            try await buildLog(in: directory)
            // 64-bit LMDB: the transaction id is the u64 at byte 144 of each meta page (Formats.md).
            let descriptor = open(directory + "/data.mdb", O_RDWR)
            defer { close(descriptor) }
            func transactionID(page: Int) -> UInt64 {
                var value: UInt64 = 0
                _ = pread(descriptor, &value, 8, off_t(page * 4_096 + 144))
                return UInt64(littleEndian: value)
            }
            let newest = transactionID(page: 0) > transactionID(page: 1) ? 0 : 1
            var low = UInt8(truncatingIfNeeded: transactionID(page: newest) ^ 0x01)
            #expect(pwrite(descriptor, &low, 1, off_t(newest * 4_096 + 144)) == 1)
            #expect(throws: StoreStructure.Damage.self) { try StoreStructure.checkFile(directory: directory) }
            let result = try Self.fascicolo(["verify", directory])
            #expect(!result.signaled && result.status == 1 && result.output.contains("transaction ids"), "\(result)")
        }
    }

    /// A record of checkpoints.log damaged before the end is damage, not a record torn by a crash:
    /// the ledger refuses to open and names the file, verify fails, and the file keeps every byte
    /// (the notes after the damage are not cut off as a torn tail).
    @Test func aDamagedCheckpointsLogIsReportedNotCutOff() async throws {
        try await withTemporaryDirectory { directory in
            let data = directory + "/data"
            let ledger = try Ledger.open(directory: data, configuration: testConfiguration(noSync: true))
            for index in 0..<40 {
                _ = try await ledger.append(AppendRequest(stream: "case-\(index % 4)", events: [event("payload \(index)")], author: "t"))
            }
            ledger.close()
            let path = data + "/" + CheckpointFile.name
            let original = readBytes(path)
            #expect(try CheckpointFile.read(directory: data).notes.count >= 4)
            // The first record's length ("412\n…") with a digit turned into another byte.
            var damaged = original
            damaged[1] = UInt8(ascii: "x")
            try writeFile(path, String(decoding: damaged, as: UTF8.self))
            #expect { try CheckpointFile.read(directory: data) } throws: { ($0 as? DamagedData)?.table == CheckpointFile.name }
            #expect { try Ledger.open(directory: data, configuration: testConfiguration(noSync: true)) } throws: {
                ($0 as? DamagedData)?.table == CheckpointFile.name
            }
            let keptEveryByte = readBytes(path) == damaged
            #expect(keptEveryByte)
            #expect { try Verifier.verify(directory: data) } throws: {
                ($0 as? Verifier.Failure)?.problem.contains(CheckpointFile.name) == true
            }
            try writeFile(path, String(decoding: original, as: UTF8.self))
            #expect(try CheckpointFile.read(directory: data).tornBytes == 0)
        }
    }

    /// What a crash in the middle of an append leaves — the beginning of a record, perhaps with
    /// zero bytes after it where the file system had extended the file — is a torn tail; anything
    /// else that is not a whole record is damage.
    @Test func checkpointsLogTornTailsAndDamage() throws {
        let note = "fascicolo.invalid/ledger\n3\nAAAA\n\n\u{2014} fascicolo.invalid/ledger AAAA\n"
        let record = Array("\(note.utf8.count)\n\(note)".utf8)
        let zeros = [UInt8](repeating: 0, count: 4096)
        for (tail, why) in [
            ([UInt8](), "nothing"), (Array(record.prefix(1)), "a cut length"), (Array(record.prefix(3)), "a length"),
            (Array(record.prefix(20)), "a cut note"), (zeros, "zero bytes"), (Array(record.prefix(20)) + zeros, "a cut note, zeros"),
        ] {
            let parsed = try CheckpointFile.parse(record + record + tail)
            #expect(parsed.notes == [note, note], "\(why)")
            #expect(parsed.tornBytes == tail.count, "\(why)")
        }
        let damage: [([UInt8], String)] = [
            (Array("x\n".utf8) + record, "a length that is not a number"),
            (Array("0\n".utf8) + record, "a zero length"),
            (Array("+\(note.utf8.count)\n\(note)".utf8) + record, "a sign"),
            (Array("0\(note.utf8.count)\n\(note)".utf8) + record, "a leading zero"),
            (record + [0] + record, "a zero byte between records"),
            (Array("9\(note.utf8.count)\n\(note)".utf8) + record, "a length that runs past the end over another record"),
            (Array(record.prefix(2)) + [UInt8(ascii: "?")] + Array(record.dropFirst(3)), "a record's line feed"),
            (Array(record.prefix(10)) + [0xFA] + Array(record.dropFirst(11)) + record, "a note that is not UTF-8"),
        ]
        for (bytes, why) in damage {
            #expect(throws: DamagedData.self, "\(why)") { try CheckpointFile.parse(bytes) }
        }
    }
}
