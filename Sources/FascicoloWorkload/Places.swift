/// Names and places that make a workload look like Basilicata's: comuni grouped by ambito (with
/// cadastral codes and postcodes), Italian and foreign names, streets. Illustrative, not an
/// official list: nothing validates them beyond the shape of the codes.
enum Places {
    struct Comune: Sendable {
        let name: String
        /// Codice catastale (Belfiore): one letter, three digits.
        let code: String
        let postcode: String
    }

    /// Comuni of each known ambito; the first is the capofila whose Comune is the actor's ente.
    static let comuniByAmbito: [String: [Comune]] = [
        "potenza": [Comune(name: "Potenza", code: "G942", postcode: "85100")],
        "alto_basento": [
            Comune(name: "Tolve", code: "L197", postcode: "85017"), Comune(name: "Acerenza", code: "A013", postcode: "85011"),
            Comune(name: "Oppido Lucano", code: "G081", postcode: "85015"),
            Comune(name: "Genzano di Lucania", code: "D971", postcode: "85013"),
            Comune(name: "Vaglio Basilicata", code: "L628", postcode: "85010"),
        ],
        "marmo_platano_melandro": [
            Comune(name: "Muro Lucano", code: "F817", postcode: "85054"), Comune(name: "Bella", code: "A717", postcode: "85051"),
            Comune(name: "Picerno", code: "G590", postcode: "85055"), Comune(name: "Tito", code: "L181", postcode: "85050"),
            Comune(name: "Brienza", code: "B174", postcode: "85050"),
        ],
        "vulture_alto_bradano": [
            Comune(name: "Melfi", code: "F104", postcode: "85025"), Comune(name: "Rionero in Vulture", code: "H307", postcode: "85028"),
            Comune(name: "Lavello", code: "E493", postcode: "85024"), Comune(name: "Venosa", code: "L738", postcode: "85029"),
            Comune(name: "Rapolla", code: "H186", postcode: "85027"),
        ],
        "val_d_agri": [
            Comune(name: "Marsicovetere", code: "E977", postcode: "85050"), Comune(name: "Viggiano", code: "L874", postcode: "85059"),
            Comune(name: "Moliterno", code: "F295", postcode: "85047"), Comune(name: "Sant'Arcangelo", code: "I157", postcode: "85037"),
        ],
        "lagonegrese_pollino": [
            Comune(name: "Lauria", code: "E483", postcode: "85044"), Comune(name: "Lagonegro", code: "E409", postcode: "85042"),
            Comune(name: "Maratea", code: "E919", postcode: "85046"), Comune(name: "Senise", code: "I610", postcode: "85038"),
            Comune(name: "Latronico", code: "E474", postcode: "85043"),
        ],
        "matera": [Comune(name: "Matera", code: "F052", postcode: "75100")],
        "bradanica_medio_basento": [
            Comune(name: "Ferrandina", code: "D547", postcode: "75013"), Comune(name: "Grassano", code: "E147", postcode: "75014"),
            Comune(name: "Tricarico", code: "L418", postcode: "75019"), Comune(name: "Irsina", code: "E326", postcode: "75022"),
            Comune(name: "Montescaglioso", code: "F637", postcode: "75024"),
        ],
        "metapontino_collina_materana": [
            Comune(name: "Policoro", code: "G786", postcode: "75025"), Comune(name: "Pisticci", code: "G712", postcode: "75015"),
            Comune(name: "Bernalda", code: "A801", postcode: "75012"), Comune(name: "Scanzano Jonico", code: "I029", postcode: "75020"),
            Comune(name: "Tursi", code: "L477", postcode: "75028"), Comune(name: "Stigliano", code: "I954", postcode: "75018"),
        ],
    ]

    /// For an ambito code this table does not know.
    static let fallbackComuni = [
        Comune(name: "Avigliano", code: "A519", postcode: "85021"), Comune(name: "Pignola", code: "G663", postcode: "85010"),
    ]

    static func comuni(of ambito: String) -> [Comune] { comuniByAmbito[ambito] ?? fallbackComuni }

    /// Relative sizes (residents, roughly): Potenza and Matera are the largest.
    static func weight(of ambito: String) -> Double {
        switch ambito {
        case "potenza", "matera": 3
        case "metapontino_collina_materana", "vulture_alto_bradano": 2
        default: 1
        }
    }

    /// Places of birth outside Basilicata: other Italian comuni and foreign states (Z codes).
    /// Napoli, Bari, Roma, Milano, Torino, Foggia, Catanzaro.
    static let italianBirthplaces = ["F839", "A662", "H501", "F205", "L219", "D643", "C352"]
    /// Romania, Bulgaria, Polonia, Germania.
    static let euBirthplaces = ["Z129", "Z104", "Z127", "Z112"]
    /// Albania, Marocco, Senegal, Nigeria, Ucraina, Pakistan, Tunisia.
    static let nonEUBirthplaces = ["Z100", "Z330", "Z343", "Z335", "Z138", "Z236", "Z352"]

    static let italianWomen = [
        "Maria", "Anna", "Giuseppina", "Rosa", "Angela", "Giovanna", "Teresa", "Lucia", "Carmela", "Caterina",
        "Francesca", "Antonella", "Rosaria", "Filomena", "Donatella", "Michela", "Vincenza", "Nicoletta", "Rocchina",
        "Chiara", "Giulia", "Sara", "Martina", "Federica", "Alessia", "Ilaria", "Maria Grazia", "Anna Maria",
        "Immacolata", "Assunta", "Letizia", "Noemi", "Aurora", "Sofia",
    ]
    static let italianMen = [
        "Giuseppe", "Antonio", "Vincenzo", "Rocco", "Canio", "Donato", "Nicola", "Michele", "Francesco", "Giovanni",
        "Luigi", "Salvatore", "Domenico", "Gerardo", "Pasquale", "Vito", "Angelo", "Carmine", "Egidio", "Leonardo",
        "Mattia", "Lorenzo", "Gabriele", "Davide", "Alessandro", "Niccolò", "Emanuele", "Raffaele", "Gianluca", "Fabio",
    ]
    static let italianSurnames = [
        "Lorusso", "Santarsiero", "Colangelo", "Summa", "Lapenta", "Laurino", "Pace", "Gallo", "Romano", "Telesca",
        "Pietrafesa", "Viggiano", "Nolè", "Lacerenza", "Carlucci", "Di Lorenzo", "D'Andrea", "De Luca", "Salvia",
        "Laguardia", "Becce", "Claps", "Lovallo", "Marino", "Esposito", "Russo", "Ferrara", "Cillis", "Mecca", "Pugliese",
        "Caputo", "D'Amico", "Lauria", "Larocca", "Sileo", "Tancredi", "Giordano", "Vaccaro", "Zaccagnino", "Genovese",
        "Rinaldi", "Sabia", "Dell'Aglio", "Coviello", "Bochicchio", "Grieco", "Masi", "Stolfi", "Mancusi", "Olivieri",
        "Rosa", "Scavone", "Guarino", "Di Bello", "Lopardo", "Fierro", "Romaniello", "Muscillo", "Pascale", "Verrastro",
    ]
    /// Names of people from EU countries (ENI codes, or residents with a codice fiscale).
    static let euWomen = ["Elena", "Ioana", "Mihaela", "Gabriela", "Agnieszka", "Desislava", "Katarzyna", "Andreea"]
    static let euMen = ["Ion", "Mihai", "Andrei", "Florin", "Piotr", "Georgi", "Marian", "Cătălin"]
    static let euSurnames = ["Popescu", "Ionescu", "Dumitru", "Stan", "Constantin", "Kowalski", "Nowak", "Petrov", "Georgiev", "Munteanu"]
    /// Names of people from outside the EU (STP codes, or residents with a codice fiscale).
    static let nonEUWomen = ["Fatima", "Khadija", "Amina", "Olena", "Iryna", "Blessing", "Aisha", "Mariam", "Enkeleda", "Samira"]
    static let nonEUMen = ["Youssef", "Mohamed", "Mamadou", "Chinedu", "Arben", "Oleksandr", "Imran", "Ibrahima", "Ahmed", "Adel"]
    static let nonEUSurnames = [
        "El Amrani", "Benali", "Diop", "Ndiaye", "Okafor", "Eze", "Hoxha", "Kovalenko", "Shevchenko", "Khan", "Traoré", "Ben Salah",
    ]

    static let streets = [
        "Via Roma", "Via Garibaldi", "Corso Umberto I", "Via Mazzini", "Via Vittorio Emanuele II", "Via Appia", "Via San Rocco",
        "Via Pretoria", "Via Anzio", "Rione Lucania", "Via Ridola", "Via Nazionale", "Contrada San Giovanni", "Via Dante Alighieri",
        "Piazza Municipio", "Via Cappuccini", "Via Sicilia", "Viale Marconi", "Via della Repubblica", "Vico II Castello",
    ]

    /// Social workers and other professionals named in personal fields (signatories, attendees).
    static let professionals = [
        "dott.ssa Lucia Santoro", "dott. Marco Lionetti", "dott.ssa Paola Satriano", "dott.ssa Angela Cervone",
        "dott. Rocco Manieri", "dott.ssa Teresa Bruno", "dott.ssa Ilenia Petrone", "dott. Nicola Fiore",
    ]

    /// Providers (clear text: organisations, never people).
    static let providers = [
        "Cooperativa sociale Il Sorriso", "Cooperativa sociale Aurora", "Cooperativa sociale Il Girasole", "Associazione Insieme ODV",
        "ASP Basilicata - distretto sanitario", "Consorzio Sociale Lucano", "Centro per l'impiego", "Caritas diocesana",
        "Fondazione Città della Pace", "Servizio sociale professionale del Comune",
    ]
}
