import FascicoloServer
import Glibc
import Logging

/// The process's limit of open descriptors (RLIMIT_NOFILE), and the connection limit that fits
/// in it. Each connection holds a descriptor; the log, the read models, the lock file, the
/// listening socket and the event loops hold some more, and refused connections are held for
/// a moment while they are answered (at most 32 at once): `reserve` is their allowance.
enum DescriptorLimit {
    /// Descriptors kept for everything but connections.
    static let reserve = 128

    /// Raises the soft limit to the hard one (the default soft limit, 1,024, is less than the
    /// connections a busy daemon may hold) and returns the soft limit in effect.
    static func raise(logger: Logger) -> UInt64 {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else {
            logger.warning("cannot read the descriptor limit (RLIMIT_NOFILE)", metadata: ["errno": "\(errno)"])
            return 1_024
        }
        let before = UInt64(limit.rlim_cur)
        // An unlimited hard limit (RLIM_INFINITY, all ones) is capped by the kernel at fs.nr_open.
        let target = limit.rlim_max == rlim_t.max ? rlim_t(openFilesMaximum()) : limit.rlim_max
        if limit.rlim_cur < target {
            var raised = limit
            raised.rlim_cur = target
            if setrlimit(resource, &raised) == 0 {
                limit = raised
            } else {
                logger.warning(
                    "cannot raise the descriptor limit (RLIMIT_NOFILE) to its hard limit",
                    metadata: ["soft": "\(before)", "hard": "\(limit.rlim_max)", "errno": "\(errno)"])
            }
        }
        let hard = limit.rlim_max == rlim_t.max ? "unlimited" : "\(limit.rlim_max)"
        logger.notice(
            "descriptor limit (RLIMIT_NOFILE)", metadata: ["soft": "\(limit.rlim_cur)", "hard": "\(hard)", "softAtStart": "\(before)"])
        return UInt64(limit.rlim_cur)
    }

    /// The connection settings that fit in `descriptors`: `connections.max` is lowered (and
    /// the reason logged) when it would leave fewer than `reserve` descriptors for the rest.
    /// A limit so low that no connection but the admins' reserve would fit stops the start.
    static func fit(_ settings: ConnectionSettings, descriptors: UInt64, logger: Logger) throws -> ConnectionSettings {
        var fitted = settings
        let room = descriptors > UInt64(reserve) ? Int(min(descriptors - UInt64(reserve), UInt64(Int.max))) : 0
        if settings.max > room {
            fitted.max = room
            logger.warning(
                "connections.max lowered to fit the descriptor limit",
                metadata: [
                    "configured": "\(settings.max)", "effective": "\(room)", "descriptors": "\(descriptors)",
                    "reserve": "\(reserve)", "fix": "raise LimitNOFILE (systemd) or ulimit -n, or lower connections.max",
                ])
        }
        guard fitted.max > fitted.adminReserved else {
            let reason =
                fitted.max < settings.max
                ? "the descriptor limit (\(descriptors)) leaves room for \(fitted.max) connections, not more than connections.admin_reserved (\(settings.adminReserved)): raise LimitNOFILE or ulimit -n"
                : "must be more than connections.admin_reserved (\(settings.adminReserved))"
            throw DaemonConfiguration.Invalid(key: "connections.max", value: "\(settings.max)", reason: reason, source: "at start")
        }
        return fitted
    }

    private static var resource: __rlimit_resource_t { __rlimit_resource_t(RLIMIT_NOFILE.rawValue) }

    /// fs.nr_open: the most descriptors the kernel lets a process have.
    private static func openFilesMaximum() -> UInt64 {
        guard let file = fopen("/proc/sys/fs/nr_open", "r") else { return 1 << 20 }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 32)
        guard fgets(&line, Int32(line.count), file) != nil else { return 1 << 20 }
        let text = String(decoding: line.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return UInt64(text).flatMap { $0 > 0 ? $0 : nil } ?? 1 << 20
    }
}
