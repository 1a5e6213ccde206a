"""What simulated customers write: complaints, messages, survey comments, reviews, cancellations.

Text is built from templates with slots (amounts, days, references, the product), paraphrases
per topic, openers and closers that vary politeness, sarcasm for some angry customers, follow-up
phrasing for people who have to chase, and typos, lower-casing and missing punctuation for some
writers, so no two customers sound the same and a text classifier cannot key on a handful of
fixed strings. Every text matches its topic (the failure behind it) and its tone (how unhappy
the writer is); survey comments match the score. English only (the ``language`` field of a
customer varies; the words do not yet). Plain Python, deterministic for a given generator.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

# Per topic: what an unhappy customer says about it, with slots.
COMPLAINTS: dict[str, tuple[str, ...]] = {
    "outage": (
        "{product} has been down for {hours} hours and I can't work.",
        "Nothing works again. Second outage this month.",
        "Your service went down in the middle of my day and there was no warning at all.",
        "Is {product} down? I've been getting errors since this morning.",
        "The outage cost me a whole afternoon and nobody told us anything.",
    ),
    "onboarding": (
        "I signed up {days} days ago and still can't get the account set up.",
        "The setup guide doesn't match what I see on screen, I'm stuck.",
        "We've been trying to onboard our team for {days} days. Nothing imports.",
        "Nobody showed us how to get started and the docs are useless.",
    ),
    "bug": (
        "{product} crashes every time I try to export.",
        "The page just spins and never loads. This has been going on for {days} days.",
        "I keep getting an error when I save, and I lost my changes twice.",
        "Checkout keeps failing with a weird error.",
        "The app logs me out every few minutes, it's unusable.",
    ),
    "data_loss": (
        "Half of our data disappeared after your update.",
        "We lost {days} days of work because of your sync problem.",
        "All my saved reports are gone. How is that even possible?",
    ),
    "billing": (
        "I was charged twice this month, {amount} {currency} each time.",
        "My bill is {amount} {currency} higher than last month and nobody can explain why.",
        "Why was I charged for something I never ordered?",
        "The invoice doesn't match my plan. Please explain the extra {amount} {currency}.",
        "I've been overcharged for {days} days now.",
    ),
    "payment": (
        "My payment didn't go through but my card is fine.",
        "You say my payment failed but the money left my account.",
        "The payment page rejected my card three times.",
    ),
    "wait": (
        "I've been waiting {days} days for an answer to a simple question.",
        "Nobody replies to my emails.",
        "I was on hold for {minutes} minutes and then the call dropped.",
        "Your support takes forever.",
    ),
    "coverage": (
        "My calls keep dropping at home.",
        "No signal in the whole neighbourhood since {weekday}.",
        "Mobile data is unusably slow, I pay for 5G and get nothing.",
        "Calls cut out every few minutes. I can't work like this.",
    ),
    "appointment": (
        "The technician never showed up. I took the day off for this.",
        "I waited at home all {weekday} for an engineer who didn't come.",
        "Third appointment cancelled without notice. My internet is still not installed.",
    ),
    "staff": (
        "The agent I spoke to was rude and hung up on me.",
        "The staff at the store were dismissive and didn't want to help.",
        "I was treated like an idiot by {agent} on the phone.",
        "Your employee laughed at me when I asked about my bill.",
    ),
    "delivery": (
        "{order} is {days} days late and the tracking hasn't moved.",
        "Still waiting for {order}. You promised delivery on {weekday}.",
        "The delivery is {days} days late and nobody answers the phone.",
        "Where is my parcel? It says delivered but it's not here.",
    ),
    "damaged": (
        "{order} arrived broken.",
        "The box was crushed and the product inside is damaged.",
        "What I received is scratched and doesn't work.",
        "The item arrived damaged, I want a replacement.",
    ),
    "wrong_item": (
        "I received the wrong item in {order}.",
        "You sent me the wrong size. Again.",
        "This isn't what I ordered. Half the order is missing.",
    ),
    "refund": (
        "Still waiting for my refund after {days} days.",
        "I returned the item weeks ago and haven't seen my {amount} {currency}.",
        "Where is my refund? You confirmed it {days} days ago.",
    ),
    "booking": (
        "My booking {ref} disappeared from my account.",
        "You booked me on the wrong date and now want me to pay the difference.",
        "The booking confirmation shows a different name, I can't check in.",
        "I was charged for {ref} but there's no booking.",
    ),
    "delay": (
        "My flight was delayed {hours} hours and nobody told us anything.",
        "{hours} hours of delay, no food vouchers, no information.",
        "Missed my connection because of your delay.",
    ),
    "baggage": (
        "My suitcase never arrived. It's been {days} days.",
        "Lost baggage and the claim form doesn't work.",
        "You lost my luggage and nobody can tell me where it is.",
    ),
    "hotel": (
        "The hotel had no room for us even though I booked through you.",
        "We arrived at midnight and the hotel said the booking didn't exist.",
        "Overbooked hotel, we had to pay for another one ourselves.",
    ),
    "card_decline": (
        "My card was declined at the supermarket even though I have money in my account.",
        "Card declined again while travelling. Embarrassing.",
        "Why does my card keep getting blocked? I've done nothing unusual.",
    ),
    "claim": (
        "My dispute {ref} has been open for {days} days.",
        "I reported a fraudulent charge weeks ago and still nothing.",
        "How long does it take to process a simple claim?",
    ),
    "fees": (
        "You charged me a {amount} {currency} fee I was never told about.",
        "Why am I paying account fees on a free account?",
        "Another hidden fee. This is getting ridiculous.",
    ),
    "transfer": (
        "My transfer of {amount} {currency} is stuck for {days} days.",
        "The money left my account but never arrived.",
        "An urgent transfer is still pending and I'm paying late fees because of it.",
    ),
    "account": (
        "My account is locked and I can't log in.",
        "I've been locked out of online banking for {days} days.",
        "You blocked my account without any explanation.",
    ),
    "general": (
        "I'm not happy with the service lately.",
        "Things keep going wrong and nobody seems to care.",
        "I expected better for what I pay.",
    ),
}

# Short phrases for survey comments and reviews, per topic.
SHORT: dict[str, tuple[str, ...]] = {
    "outage": ("too many outages", "the service keeps going down", "downtime"),
    "onboarding": ("onboarding was painful", "setup took forever", "hard to get started"),
    "bug": ("too many bugs", "the app keeps crashing", "things break all the time"),
    "data_loss": ("you lost our data", "data disappeared"),
    "billing": ("billing is a mess", "wrong charges on my bill", "overcharged again"),
    "payment": ("payments keep failing", "payment problems"),
    "wait": ("support is too slow", "nobody answers", "long waits"),
    "coverage": ("bad coverage", "calls keep dropping", "slow data"),
    "appointment": ("the technician never came", "missed appointments"),
    "staff": ("rude staff", "unfriendly agents", "the agent was rude"),
    "delivery": ("late delivery", "my parcel was late", "slow shipping"),
    "damaged": ("the item arrived damaged", "broken on arrival"),
    "wrong_item": ("wrong item sent", "they sent the wrong thing"),
    "refund": ("still no refund", "refunds take forever"),
    "booking": ("my booking was messed up", "booking errors"),
    "delay": ("delays and no information", "the flight was late"),
    "baggage": ("lost luggage", "my bag never arrived"),
    "hotel": ("the hotel had no room", "overbooked hotel"),
    "card_decline": ("my card keeps getting declined", "card blocked for no reason"),
    "claim": ("my claim is taking forever", "slow dispute handling"),
    "fees": ("hidden fees", "too many fees"),
    "transfer": ("transfers take too long", "my transfer got stuck"),
    "account": ("my account got locked", "locked out again"),
    "general": ("not worth the money", "service has gone downhill"),
}

OPENERS = {
    "polite": ("Hello,", "Hi there,", "Good morning,", "Dear support team,", "Hi,", "Hello team,"),
    "plain": ("", "", "", "So,", "Hi.", "Hey,"),
    "angry": ("", "", "Unbelievable.", "Seriously?", "I'm furious.", "Enough."),
}
CLOSERS = {
    "polite": (
        "Could you please look into it?",
        "I'd appreciate an update.",
        "Thanks in advance.",
        "Please let me know what you can do.",
        "Kind regards.",
        "Thank you for your help.",
    ),
    "plain": (
        "Please sort this out.",
        "Can someone call me back?",
        "What's going on?",
        "Please advise.",
        "",
    ),
    "angry": (
        "I want a refund.",
        "Fix it or I'm leaving.",
        "I expect an answer today.",
        "What are you going to do about it?",
        "I'm seriously thinking about cancelling.",
        "This is the last straw.",
    ),
}
SARCASM = (
    "Thanks for nothing.",
    "Great job, really.",
    "Love paying for a service that doesn't work.",
    "Fantastic customer service, as always.",
    "Wow, what a surprise.",
    "Five stars for consistency, I guess.",
    "Brilliant. Just brilliant.",
    "Well done, truly.",
)
FOLLOW_UPS = (
    "This is the {nth} time I'm writing about this.",
    "Still no answer.",
    "Still waiting for a reply to my last message.",
    "Nobody got back to me.",
    "Any update? It's been {days} days.",
    "I already explained all this and nothing happened.",
    "Third time asking:",
    "Following up again.",
)
SURVEY_NEGATIVE = (
    "Support never got back to me.",
    "Too slow, too many problems.",
    "Not worth the money.",
    "Disappointed.",
    "Would not recommend.",
    "Terrible experience lately.",
)
SURVEY_PASSIVE = (
    "It's fine, nothing special.",
    "Works, mostly.",
    "OK overall.",
    "Decent, could be cheaper.",
    "Does the job.",
    "Average.",
    "Fine but {short} needs work.",
    "Good enough, but {short}.",
)
SURVEY_POSITIVE = (
    "Great service, thank you!",
    "Quick and friendly help.",
    "Never had a problem.",
    "Really happy with {product}.",
    "Excellent, keep it up.",
    "Very reliable.",
    "Love it.",
    "Always helpful.",
)
SURVEY_RECOVERED = (
    "Had a problem but you fixed it fast, impressed.",
    "Something went wrong but support sorted it out the same day.",
    "Thanks for handling my issue so quickly.",
    "You made it right, that's why I stay.",
)
SURVEY_UNANSWERED = (
    "Nobody ever replied about {short}.",
    "I reported {short} and heard nothing.",
    "Still waiting on {short}, no response.",
)
REVIEW_NEGATIVE = (
    "Avoid. {Short}.",
    "One star because zero isn't possible. {Short}.",
    "{Short} and customer service doesn't care.",
    "Worst experience I've had with any company. {Short}.",
)
REVIEW_MIDDLE = ("Mixed feelings. {Short}, otherwise okay.", "Not bad, not great. {Short}.")
REVIEW_POSITIVE = (
    "Great company, fast help when I needed it.",
    "Reliable and friendly. Recommended.",
    "Five stars, no complaints.",
    "Had an issue once and they fixed it quickly. Recommended.",
)
CANCELLATIONS = (
    "Cancelling, it's not worth it.",
    "Please close my account.",
    "I'm switching to {competitor}.",
    "Too many problems lately: {short}. I'm leaving.",
    "After {short}, I've had enough. Cancel everything.",
    "Moving to another provider.",
    "",
)
COMPETITORS = ("a competitor", "another provider", "your competitor", "someone cheaper")
AGENTS = ("Mark", "Sofia", "Jonas", "Priya", "the agent", "your colleague", "Tom", "Lena")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NTH = ("second", "third", "fourth", "fifth")


def _fill(template: str, slots: _Slots) -> str:
    text = template.format_map(slots)
    return text[0].upper() + text[1:] if text else text


class _Slots(dict[str, object]):
    """Slot values, drawn only when a template asks for them."""

    def __init__(self, rng: random.Random, values: Mapping[str, object]) -> None:
        super().__init__(values)
        self.rng = rng

    def __missing__(self, key: str) -> object:
        rng = self.rng
        value: object
        if key == "days":
            value = rng.choice((2, 3, 4, 5, 6, 8, 10, 12, 14))
        elif key == "hours":
            value = rng.choice((2, 3, 4, 5, 6, 8))
        elif key == "minutes":
            value = rng.choice((25, 40, 45, 50, 70, 90))
        elif key == "amount":
            value = rng.choice((9.99, 12.5, 19, 29.9, 35, 49, 60, 89, 120))
        elif key == "order":
            value = f"order #{rng.randrange(100000, 999999)}"
        elif key == "ref":
            value = f"{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{rng.randrange(10000, 99999)}"
        elif key == "weekday":
            value = rng.choice(WEEKDAYS)
        elif key == "agent":
            value = rng.choice(AGENTS)
        elif key == "competitor":
            value = rng.choice(COMPETITORS)
        else:
            return "{" + key + "}"
        self[key] = value
        return value


def _typo(rng: random.Random, text: str) -> str:
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) > 3 and w.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    w = words[i]
    j = rng.randrange(1, len(w) - 1)
    kind = rng.random()
    if kind < 0.4:
        w = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    elif kind < 0.7:
        w = w[:j] + w[j + 1 :]
    else:
        w = w[:j] + w[j] + w[j:]
    words[i] = w
    return " ".join(words)


def _style(rng: random.Random, text: str, tone: str) -> str:
    """Typos, shouting, lower case and missing punctuation, as real writers do."""
    if rng.random() < 0.18:
        text = _typo(rng, text)
    if rng.random() < 0.08:
        text = _typo(rng, text)
    roll = rng.random()
    if roll < 0.08:
        text = text.lower()
    elif tone == "angry" and roll < 0.16:
        text = text.replace(".", "!!", 1) if "." in text else text + "!!"
    if rng.random() < 0.12 and text.endswith("."):
        text = text[:-1]
    text = text.replace("I'm", "im") if rng.random() < 0.04 else text
    return " ".join(text.split())


class Writer:
    """Writes customers' words from its own ``random.Random`` (not the behaviour streams)."""

    def __init__(self, rng: random.Random, product: str, currency: str) -> None:
        self.rng = rng
        self.product = product
        self.currency = currency

    def _slots(self, extra: Mapping[str, object] | None = None) -> _Slots:
        slots = _Slots(self.rng, {"product": self.product, "currency": self.currency})
        if extra:
            slots.update(extra)
        return slots

    def short(self, topic: str) -> str:
        return self.rng.choice(SHORT.get(topic, SHORT["general"]))

    def complaint(
        self, topic: str, tone: str, *, chase: int = 0, slots: Mapping[str, object] | None = None
    ) -> str:
        """A complaint or message about ``topic``; ``chase`` > 0 for a follow-up."""
        rng = self.rng
        values = self._slots(slots)
        manners = "angry" if tone == "angry" else ("polite" if rng.random() < 0.55 else "plain")
        parts = [rng.choice(OPENERS[manners])]
        if chase:
            values["nth"] = NTH[min(chase, len(NTH)) - 1]
            parts.append(_fill(rng.choice(FOLLOW_UPS), values))
        core = COMPLAINTS.get(topic, COMPLAINTS["general"])
        parts.append(_fill(rng.choice(core), values))
        if rng.random() < 0.3:
            parts.append(_fill(rng.choice(core), values))
        if tone == "angry" and rng.random() < 0.35:
            parts.append(rng.choice(SARCASM))
        parts.append(rng.choice(CLOSERS[manners]))
        return _style(rng, " ".join(p for p in parts if p), tone)

    def survey_comment(
        self, kind: str, score: int, topic: str | None, recovered: bool, unanswered: bool
    ) -> str | None:
        """A comment matching the score (and the failure behind it, if any); often none."""
        rng = self.rng
        if rng.random() < 0.4:
            return None
        band = _band(kind, score)
        values = self._slots({"short": self.short(topic or "general")})
        if band == "negative":
            if unanswered and rng.random() < 0.5:
                text = _fill(rng.choice(SURVEY_UNANSWERED), values)
            elif topic is not None and rng.random() < 0.7:
                text = _fill(rng.choice(COMPLAINTS.get(topic, COMPLAINTS["general"])), values)
            else:
                text = rng.choice(SURVEY_NEGATIVE)
            if rng.random() < 0.15:
                text += " " + rng.choice(SARCASM)
            tone = "angry"
        elif band == "passive":
            text, tone = _fill(rng.choice(SURVEY_PASSIVE), values), "plain"
        else:
            pool = SURVEY_RECOVERED if recovered and rng.random() < 0.7 else SURVEY_POSITIVE
            text, tone = _fill(rng.choice(pool), values), "plain"
        return _style(rng, text, tone)

    def review(self, stars: int, topic: str | None) -> str:
        rng = self.rng
        short = self.short(topic or "general")
        values = self._slots({"short": short, "Short": short[0].upper() + short[1:]})
        pool = REVIEW_NEGATIVE if stars <= 2 else REVIEW_MIDDLE if stars == 3 else REVIEW_POSITIVE
        return _style(rng, _fill(rng.choice(pool), values), "angry" if stars <= 2 else "plain")

    def cancellation(self, topic: str | None) -> str | None:
        rng = self.rng
        text = _fill(
            rng.choice(CANCELLATIONS), self._slots({"short": self.short(topic or "general")})
        )
        return _style(rng, text, "plain") or None


def _band(kind: str, score: int) -> str:
    if kind == "nps":
        return "negative" if score <= 6 else "passive" if score <= 8 else "positive"
    if kind == "csat":
        return "negative" if score <= 2 else "passive" if score == 3 else "positive"
    return "negative" if score >= 5 else "passive" if score >= 3 else "positive"  # ces
