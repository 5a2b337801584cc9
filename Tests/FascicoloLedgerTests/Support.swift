@_exported import FascicoloTesting
import FascicoloLedger
import Glibc
import Testing

/// A configuration for tests of logic: small limits where a test needs them. Durability stays
/// on unless a test asks otherwise, since several tests reopen the store.
func testConfiguration(noSync: Bool = false) -> LedgerConfiguration {
    var configuration = LedgerConfiguration()
    configuration.unsafeNoSync = noSync
    configuration.checkpointEveryEntries = 10
    configuration.checkpointEveryMilliseconds = 50
    return configuration
}

func payload(_ text: String) -> [UInt8] { Array(text.utf8) }

func event(_ text: String, type: String = "TestEvent") -> NewEvent { NewEvent(type: type, payload: payload(text)) }
