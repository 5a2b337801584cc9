import FascicoloTesting
import Glibc
import Testing

@testable import FascicoloDomain

@Suite("Case facts")
struct CaseFactTests {
    /// The field a refusal names is the schema's reference field, for every type that has one.
    @Test func referenceFieldsComeFromTheCatalogue() {
        for (type, spec) in referenceSpec {
            #expect(CaseFact(version: 1, type: type).referenceField == spec.field, "\(type)")
        }
        #expect(CaseFact(version: 1, type: "CaseOpened").referenceField == nil)
    }

    /// The codes kept out of line read back as set, compare by value, and a copy does not see
    /// a later change to the original.
    @Test func outOfLineCodesBehaveAsValues() {
        var fact = CaseFact(version: 3, type: "CaseTransferredIn")
        fact.ambito = "potenza"
        fact.fromAmbito = "val_d_agri"
        let copy = fact
        fact.ambito = "lagonegrese_pollino"
        #expect(copy.ambito == "potenza" && copy.fromAmbito == "val_d_agri")
        #expect(fact.ambito == "lagonegrese_pollino" && fact.fromAmbito == "val_d_agri")
        #expect(fact != copy)
        fact.ambito = "potenza"
        #expect(fact == copy)
        fact.ambito = nil
        fact.fromAmbito = nil
        #expect(fact == CaseFact(version: 3, type: "CaseTransferredIn"))
    }
}
