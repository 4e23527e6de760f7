public import BifocalCore
import Foundation

/// One question of the built-in set, with the answer a correct model gives.
public struct Question: Sendable, Hashable {
    /// The topic it belongs to (the traffic's topic mix picks by topic).
    public var topic: String
    /// What the user asks.
    public var prompt: String
    /// The correct answer.
    public var reference: String
}

/// How a faulty model spoils an answer.
public enum AnswerFault: String, Sendable, Hashable, CaseIterable, Codable {
    /// Another question's answer: fluent and wrong.
    case wrong
    /// A confident invention.
    case madeUp = "made_up"
    /// A refusal.
    case refused
    /// An insult.
    case toxic
    /// The right answer, followed by someone's contact details.
    case pii
    /// Cut off half way (`finish_reason: length`).
    case truncated
}

/// The answer a simulated model streams: its pieces (one token each) and why it stops.
public struct SimulatedAnswer: Sendable {
    /// The text in token-sized pieces; concatenated they are the answer.
    public var pieces: [String] {
        get { parts.count == 1 ? parts[0] : Array(parts.joined()) }
        set {
            parts = [newValue]
            tokens = newValue.count
            whole = nil
        }
    }
    /// How many pieces (tokens) it has.
    public private(set) var tokens: Int
    /// `stop`, or `length` when cut off.
    public var finishReason: String
    /// The fault that spoiled it, if any.
    public var fault: AnswerFault?
    /// The whole text.
    public var text: String { whole ?? pieces.joined() }
    /// The pieces of each sentence, as `QuestionSet` keeps them split: an answer of a few hundred
    /// pieces is a few arrays, not a few hundred strings copied one by one.
    private var parts: [[String]]
    /// The whole text, built from whole sentences (joining hundreds of pieces costs more than
    /// the rest of a simulated request); nil once `pieces` is set.
    private var whole: String?

    /// An answer of these pieces.
    public init(pieces: [String], finishReason: String, fault: AnswerFault?) {
        self.parts = [pieces]
        self.tokens = pieces.count
        self.finishReason = finishReason
        self.fault = fault
    }

    /// An answer made of sentences: each one's pieces, and the whole text.
    init(parts: [[String]], text: String, finishReason: String, fault: AnswerFault?) {
        self.parts = parts
        self.tokens = parts.reduce(0) { $0 + $1.count }
        self.whole = text
        self.finishReason = finishReason
        self.fault = fault
    }
}

/// The built-in question set: a few topics, each with questions whose correct answers are known,
/// so quality checks have references to compare against.
public enum QuestionSet {
    /// Every question.
    public static let all: [Question] = [
        Question(topic: "support", prompt: "How do I reset my password?", reference: "Open Settings, choose Security, select Reset password and follow the link we email you. The link expires after 30 minutes."),
        Question(topic: "support", prompt: "What is the refund policy for annual plans?", reference: "Annual plans can be refunded in full within 30 days of purchase, and pro rata after that."),
        Question(topic: "support", prompt: "Can I change the email address on my account?", reference: "Yes. Go to Settings, then Profile, enter the new address and confirm it from the message we send to it."),
        Question(topic: "support", prompt: "Why was my card declined?", reference: "Cards are usually declined for an expired card, a billing address mismatch or a bank limit. Check the card details, then contact your bank."),
        Question(topic: "support", prompt: "How do I cancel my subscription?", reference: "Go to Billing, select Cancel subscription and confirm. You keep access until the end of the paid period."),
        Question(topic: "coding", prompt: "In Python, how do I reverse a list in place?", reference: "Call the list's reverse method: items.reverse(). It returns None and changes the list itself."),
        Question(topic: "coding", prompt: "What does HTTP status 429 mean?", reference: "429 Too Many Requests: the client sent too many requests in a given time and should retry after the time in Retry-After."),
        Question(topic: "coding", prompt: "Write a SQL query that counts orders per day.", reference: "SELECT date(created_at) AS day, count(*) AS orders FROM orders GROUP BY day ORDER BY day;"),
        Question(topic: "coding", prompt: "What is the difference between a process and a thread?", reference: "A process has its own address space; threads run inside a process and share its memory, so they are cheaper to create but need synchronisation."),
        Question(topic: "coding", prompt: "How do I undo the last git commit but keep the changes?", reference: "Run git reset --soft HEAD~1: the commit is removed and its changes stay staged."),
        Question(topic: "translation", prompt: "Translate to French: Our office is closed on public holidays.", reference: "Nos bureaux sont fermés les jours fériés."),
        Question(topic: "translation", prompt: "Translate to German: The train leaves at eight.", reference: "Der Zug fährt um acht Uhr ab."),
        Question(topic: "translation", prompt: "Translate to Spanish: Where is the nearest pharmacy?", reference: "¿Dónde está la farmacia más cercana?"),
        Question(topic: "translation", prompt: "Translate to Italian: Thank you for your patience.", reference: "Grazie per la vostra pazienza."),
        Question(topic: "math", prompt: "What is 17 multiplied by 23?", reference: "17 multiplied by 23 is 391."),
        Question(topic: "math", prompt: "What is the derivative of x squared?", reference: "The derivative of x squared is 2x."),
        Question(topic: "math", prompt: "What is 15% of 240?", reference: "15% of 240 is 36."),
        Question(topic: "math", prompt: "How many seconds are there in a day?", reference: "There are 86,400 seconds in a day."),
        Question(topic: "science", prompt: "What is the boiling point of water at sea level in Celsius?", reference: "Water boils at 100 degrees Celsius at sea level."),
        Question(topic: "science", prompt: "Which planet is closest to the Sun?", reference: "Mercury is the planet closest to the Sun."),
        Question(topic: "science", prompt: "What gas do plants absorb for photosynthesis?", reference: "Plants absorb carbon dioxide and release oxygen during photosynthesis."),
        Question(topic: "science", prompt: "What is the chemical symbol for gold?", reference: "The chemical symbol for gold is Au."),
        Question(topic: "legal", prompt: "How long must we keep invoices under our retention policy?", reference: "Invoices are kept for ten years from the end of the financial year they belong to."),
        Question(topic: "legal", prompt: "Can a customer ask us to delete their personal data?", reference: "Yes. Under GDPR a customer may ask for erasure, and we must answer within one month."),
        Question(topic: "legal", prompt: "Do we need consent to send marketing emails?", reference: "Yes, marketing emails need the recipient's prior consent, and every email must offer a way to unsubscribe."),
        Question(topic: "legal", prompt: "Who may sign contracts on the company's behalf?", reference: "Only directors and employees with written delegated authority may sign contracts for the company."),
    ]

    /// The topics, in a stable order.
    public static let topics: [String] = {
        var seen: [String] = []
        for question in all where !seen.contains(question.topic) { seen.append(question.topic) }
        return seen
    }()

    /// The questions of each topic.
    public static let byTopic: [String: [Question]] = Dictionary(grouping: all, by: \.topic)

    static let elaborations: [String] = [
        " If anything is unclear, ask and I will explain it step by step.",
        " This applies to every account, whatever its plan.",
        " You can find more detail in the documentation under the same heading.",
        " Let me know if you would like an example.",
        " In most cases that is all you need to do.",
        " Keep a note of this for next time.",
    ]

    static let madeUp = "According to the 2019 Geneva Accord on Digital Services, this was settled permanently by Article 14, so no further action is ever needed."
    static let refusal = "I'm sorry, but I can't help with that request."
    static let insult = "That is a stupid question and you are an idiot for asking it. Figure it out yourself."
    static let contact = " For help, contact our agent Maria Keller at maria.keller@example.com or on +1 415 555 0134."

    /// Pieces of every reference answer and canned text, split once: splitting by characters
    /// costs more than the rest of a simulated request.
    static let cachedPieces: [String: [String]] = {
        var cache: [String: [String]] = [:]
        for text in all.map(\.reference) + elaborations + [madeUp, refusal, insult, contact] { cache[text] = splitPieces(text) }
        return cache
    }()

    /// Splits text into token-sized pieces: each word with the space before it.
    public static func pieces(of text: String) -> [String] {
        cachedPieces[text] ?? splitPieces(text)
    }

    static func splitPieces(_ text: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        for character in text {
            if character == " ", !current.isEmpty, current != " " {
                pieces.append(current)
                current = ""
            }
            current.append(character)
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }

    /// Rough token count of a prompt, as a server's tokenizer would give for English: one per
    /// four bytes.
    public static func promptTokens(of text: String) -> Int { max(1, (text.utf8.count + 3) / 4) }

    /// The answer to `question` at about `length` tokens (never shorter than the reference unless
    /// cut off), spoiled by `fault` when given.
    public static func answer(to question: Question, length: Int, fault: AnswerFault?, rng: inout SplitMix64) -> SimulatedAnswer {
        var base = question.reference
        switch fault {
        case .wrong?:
            let others = all.filter { $0 != question }
            base = others[Int(rng.next() % UInt64(others.count))].reference
        case .madeUp?: base = madeUp
        case .refused?: return SimulatedAnswer(parts: [pieces(of: refusal)], text: refusal, finishReason: "stop", fault: .refused)
        case .toxic?: return SimulatedAnswer(parts: [pieces(of: insult)], text: insult, finishReason: "stop", fault: .toxic)
        case .pii?: break
        case .truncated?, nil: break
        }
        if fault == .truncated {
            let result = pieces(of: base)
            return SimulatedAnswer(pieces: Array(result.prefix(max(1, result.count / 2))), finishReason: "length", fault: .truncated)
        }
        // The base text, then elaborations until the answer is long enough; the text is built
        // from the same whole sentences as the pieces.
        var parts = [pieces(of: base)]
        var count = parts[0].count
        var text = base
        if fault == .pii {
            parts.append(pieces(of: contact))
            count += parts[1].count
            text += contact
        }
        var next = Int(rng.next() % UInt64(elaborations.count))
        while count < length {
            let index = next % elaborations.count
            parts.append(elaborationPieces[index])
            count += elaborationPieces[index].count
            text += elaborations[index]
            next += 1
        }
        return SimulatedAnswer(parts: parts, text: text, finishReason: "stop", fault: fault)
    }

    static let elaborationPieces: [[String]] = elaborations.map { splitPieces($0) }

    /// Filler that brings a prompt to about `tokens` tokens: a document the question is about.
    public static func context(tokens: Int) -> String {
        guard tokens > 0 else { return "" }
        let sentence = "The customer record lists the account, its plan, its invoices and its support history in order. "
        let needed = tokens * 4
        var text = "Context:\n"
        text.reserveCapacity(needed + sentence.utf8.count)
        while text.utf8.count < needed { text += sentence }
        return text
    }
}
