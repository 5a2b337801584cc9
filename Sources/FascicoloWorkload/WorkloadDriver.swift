import FascicoloDomain

/// Applies generated steps through the domain layer, in process, as a backend service would
/// through the daemon: for tests and benchmarks that need a realistic log.
public struct WorkloadDriver: Sendable {
    public let files: CaseFiles
    public let author: String
    public let reader: Reader

    public init(files: CaseFiles, author: String = "uid:1000/workload", operatorID: String = "op-101") {
        self.files = files
        self.author = author
        self.reader = Reader(author: author, role: "writer", purpose: nil, operatorID: operatorID)
    }

    /// Applies one step; throws what the domain layer refused.
    public func apply(_ step: WorkloadStep) async throws {
        switch step {
        case .record(_, let body):
            let request = try RecordRequest.parse(body, eventsMax: files.limits.eventsPerRequestMax)
            _ = try await files.record(request, author: author)
        case .erase(let person, let legalGround, let reference):
            _ = try await files.erase(try PersonIdentifier(parsing: person), legalGround: legalGround, reference: reference, author: author)
        case .read(let person):
            _ = try await files.caseFile(for: try PersonIdentifier(parsing: person), reader: reader)
        }
    }

    /// Applies every remaining step of `generator`; returns how many.
    @discardableResult
    public func run(_ generator: inout PathGenerator) async throws -> Int {
        var count = 0
        while let step = generator.next() {
            try await apply(step)
            count += 1
        }
        return count
    }
}
