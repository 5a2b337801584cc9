/// Every read model the daemon serves, in the order the engine starts them. Adding a read model
/// means its own file here, one line in this list, its routes in FascicoloServer and its docs:
/// the daemon, the benchmark and the tests take the list from here.
public enum ReadModels {
    public static let all: [any Projection.Type] = [
        Timeline.self, Cases.self, Interventions.self, Compliance.self, Households.self, SiussRegister.self,
    ]
}
