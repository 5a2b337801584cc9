import FascicoloCrypto
import Foundation
import Testing

private func mode(of path: String) throws -> UInt32 {
    var info = stat()
    try #require(stat(path, &info) == 0, "stat \(path): errno \(errno)")
    return UInt32(info.st_mode) & 0o7777
}

private func contents(of path: String) throws -> [UInt8] {
    try #require(FileManager.default.contents(atPath: path).map { Array($0) })
}

@Suite("Key files")
struct KeyFileTests {
    static let name = "example.com/log"

    @Test func loadOrCreateWritesBothFiles() throws {
        try withTemporaryDirectory { directory in
            let key = try KeyFile.loadOrCreate(directory: directory, name: Self.name)
            let secretPath = directory + "/" + KeyFile.secretName
            let publicPath = directory + "/" + KeyFile.publicName
            #expect(KeyFile.secretName == "signing.key")
            #expect(KeyFile.publicName == "signing.pub")

            #expect(try mode(of: secretPath) == 0o600)
            #expect(try mode(of: publicPath) == 0o644)
            #expect(try contents(of: secretPath) == key.withSeed { Array($0) })
            #expect(try contents(of: secretPath).count == 32)
            let expected = SignedNote.verifierKey(name: Self.name, publicKey: key.publicKey) + "\n"
            #expect(String(decoding: try contents(of: publicPath), as: UTF8.self) == expected)

            let verifier = try KeyFile.loadVerifierKey(directory: directory)
            #expect(verifier.name == Self.name)
            #expect(verifier.publicKey == key.publicKey)

            // The second call loads the same key instead of making a new one.
            let again = try KeyFile.loadOrCreate(directory: directory, name: Self.name)
            #expect(again.publicKey == key.publicKey)
            let loaded = try KeyFile.load(path: secretPath)
            #expect(loaded.publicKey == key.publicKey)
        }
    }

    @Test func missingPublicFileIsWrittenAgain() throws {
        try withTemporaryDirectory { directory in
            let key = try KeyFile.loadOrCreate(directory: directory, name: Self.name)
            let publicPath = directory + "/" + KeyFile.publicName
            try FileManager.default.removeItem(atPath: publicPath)
            let again = try KeyFile.loadOrCreate(directory: directory, name: Self.name)
            #expect(again.publicKey == key.publicKey)
            #expect(try KeyFile.loadVerifierKey(directory: directory).publicKey == key.publicKey)
            #expect(try mode(of: publicPath) == 0o644)
        }
    }

    @Test(arguments: [0o644 as mode_t, 0o640, 0o604, 0o620, 0o660, 0o601])
    func keyOpenToOthersIsRefused(_ permissions: mode_t) throws {
        try withTemporaryDirectory { directory in
            _ = try KeyFile.loadOrCreate(directory: directory, name: Self.name)
            let secretPath = directory + "/" + KeyFile.secretName
            try #require(chmod(secretPath, permissions) == 0)

            let error = #expect(throws: KeyFile.Failure.self) { try KeyFile.load(path: secretPath) }
            guard case .tooOpen(let path, let reported)? = error else {
                Issue.record("expected tooOpen, got \(String(describing: error))")
                return
            }
            #expect(path == secretPath)
            #expect(reported & 0o777 == UInt32(permissions))
            let description = String(describing: error!)
            #expect(description.contains(secretPath))
            #expect(description.contains("chmod 600"))
            #expect(description.contains(String(permissions, radix: 8)))

            // loadOrCreate refuses it as well, and does not replace the key.
            #expect(throws: KeyFile.Failure.self) { try KeyFile.loadOrCreate(directory: directory, name: Self.name) }
        }
    }

    @Test func ownerOnlyModesAreAccepted() throws {
        try withTemporaryDirectory { directory in
            let key = try KeyFile.loadOrCreate(directory: directory, name: Self.name)
            let secretPath = directory + "/" + KeyFile.secretName
            try #require(chmod(secretPath, 0o400) == 0)
            #expect(try KeyFile.load(path: secretPath).publicKey == key.publicKey)
        }
    }

    @Test(arguments: [0, 31, 33, 100])
    func wrongSizedKeyIsMalformed(_ size: Int) throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/" + KeyFile.secretName
            try #require(
                FileManager.default.createFile(
                    atPath: path, contents: Data(repeating: 7, count: size), attributes: [.posixPermissions: 0o600]))
            try #require(try mode(of: path) == 0o600)
            let error = #expect(throws: KeyFile.Failure.self) { try KeyFile.load(path: path) }
            guard case .malformed(let reportedPath, _)? = error else {
                Issue.record("expected malformed, got \(String(describing: error))")
                return
            }
            #expect(reportedPath == path)
        }
    }

    @Test func missingKeyFileIsUnreadable() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/" + KeyFile.secretName
            let error = #expect(throws: KeyFile.Failure.self) { try KeyFile.load(path: path) }
            guard case .unreadable(let reportedPath, let code)? = error else {
                Issue.record("expected unreadable, got \(String(describing: error))")
                return
            }
            #expect(reportedPath == path)
            #expect(code == ENOENT)
        }
    }

    @Test func malformedPublicFileIsRefused() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/" + KeyFile.publicName
            try #require(FileManager.default.createFile(atPath: path, contents: Data("not a key\n".utf8)))
            #expect(throws: KeyFile.Failure.self) { try KeyFile.loadVerifierKey(directory: directory) }
        }
    }
}
