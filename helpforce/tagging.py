"""Tags and language of a new question, from ``routing.yaml``'s channels, tags and languages.

(DOCSTRING TBD)
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import regex

from helpforce.config.routing import RoutingSettings

__all__ = [
    "DETECTABLE",
    "MAX_CHARS",
    "Classification",
    "LanguageDetector",
    "Tagger",
    "fold",
]

log = logging.getLogger(__name__)

#: texts are cut to this many characters before tagging and detection (Telegram's maximum
#: message, the longest of the platforms)
MAX_CHARS = 4096
#: one tag pattern's search is abandoned after this long (the pattern then does not match)
PATTERN_TIMEOUT = 0.005


@dataclass(frozen=True, slots=True)
class Classification:
    tags: frozenset[str]
    language: str
    #: where ``language`` came from: ``"channel"``, ``"detected"`` or ``"default"``
    language_source: str


# --- folding ----------------------------------------------------------------------------

# curly quotes and apostrophes as typed by phones; combining accents (U+0300-U+036F) dropped
_FOLD = {ord(c): "'" for c in "\u2018\u2019\u201a\u201b\u02bc\u2032\u00b4\uff07"}
_FOLD.update({ord(c): '"' for c in "\u201c\u201d\u201e\u201f\u2033"})
_FOLD.update({cp: None for cp in range(0x300, 0x370)})


def fold(text: str) -> str:
    """``text`` as keywords are matched: case-folded, accents on letters dropped (combining
    marks U+0300-U+036F after NFD: ``Reembolsó`` → ``reembolso``, ``Straße`` → ``strasse``),
    curly apostrophes and quotes made straight. Other scripts are only case-folded."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", text.casefold())
                                 .translate(_FOLD))


# --- language detection -----------------------------------------------------------------

# Frequent words of each language: function words first, then the words customers use with a
# helpdesk. Written without accents (tokens are looked up with accents dropped). A word listed
# under k languages weighs 1/k for each of them.
_WORDS: dict[str, str] = {
    "en": """
        the a an and or but of to in on at for from with by about as into after before
        is are was were be been being am do does did done have has had will would can could
        should may might must not no yes this that these those it its it's i i'm i've i'll
        i'd me my you you're your we our us they they're their them he she his her
        what which who when where why how there here if then than so just still yet already
        again also too very really only all any some every each more most much many other
        get got go going went come came send sent make made want need needs help please
        thanks thank hi hello hey order account password refund delivery delivered received
        receive waiting wait payment charged card phone email app website store item package
        parcel service customer support issue problem working work doesn't don't can't
        won't isn't didn't haven't hasn't wasn't aren't couldn't since last week day days
        today yesterday tomorrow time anyone someone nobody nothing something anything
        never ever back out up down off over twice been tried trying keeps says said
        know think see look tell let ask told asked call called take give thing way
        because while through same own first one two three good bad right wrong able
        sure sorry without within between during under until new used using found
        cannot unable failed could there's what's that's let's should've via
        """,
    "es": """
        de la que el en y a los se del las un por con no una su para es al lo como mas pero
        sus le ya o este si porque esta entre cuando muy sin sobre tambien me hasta hay
        donde quien desde todo nos todos uno les ni otro ese eso esto mi antes algo yo
        otra mucho nada muchos cual poco ella estar estas estos tengo tiene tienen tu te
        mis tus os vosotros usted ustedes hola buenas buenos gracias favor ayuda pedido
        cuenta contrasena envio llegado llega llego recibido todavia aun dinero reembolso
        factura cobrado cobraron tienda compra compre devolver necesito quiero puedo
        podeis pueden puede hace hacer hago sigo sigue semana dias hoy ayer manana nadie
        funciona problema veces dos tres llamadas respuesta he han hemos habeis son soy
        estoy estan fue sido solo nunca siempre ahora despues entonces aqui alli cuando
        correo movil pago tarjeta cliente servicio alguien nuevo nueva otros mismo
        misma bien mal cada cuales podria seria tener decir dice dicen ver dar ir voy
        vamos va tenemos saludos ayudar ayudarme segun hacia contra aunque mientras pues
        asi ademas tampoco ninguno ninguna alguna alguno mucha tambien usando puede
        """,
    "fr": """
        le la les de des du un une et est en que qui ne pas plus pour dans par sur au aux
        avec ce cet cette ces il elle ils elles je tu vous nous on mon ma mes ton ta tes
        son sa ses leur leurs mais ou donc car si y a ai as avons avez ont suis es sommes
        etes sont etre avoir fait faire peut peux pouvez veux voudrais rien tout tous
        toujours encore deja aussi tres bien merci bonjour bonsoir salut svp commande
        compte mot passe remboursement livraison livre recu colis depuis quand pourquoi
        comment quoi aucun aucune personne jamais semaine jours aujourd'hui hier demain
        probleme marche fonctionne appel appels reponse abonnement c' n' l' d' qu' s' m'
        j' t' vos votre notre nos moi toi lui sans chez alors ete avait vais va etait
        sera seront doit doivent faut fois autre autres meme sous entre vers contre
        pendant selon apres avant chaque quelque quelques plusieurs ceci cela ca lors
        dont impossible trouve utiliser
        """,
    "de": """
        der die das und ist nicht ich du er sie es wir ihr mein meine meinen meiner meinem
        dein deine euer eure ein eine einen einem einer den dem des zu zum zur im in mit
        auf fur von vom an am aus bei nach seit noch schon immer auch aber oder wenn weil
        dass wie was warum wo wann wer kann konnen konnt muss soll will wurde wurden wird
        habe hast hat haben bin bist sind war waren nur sehr bitte danke hallo guten tag
        bestellung konto passwort paket lieferung geliefert erhalten bekommen keine kein
        nichts niemand jetzt heute gestern morgen woche wochen tage geld zuruck rechnung
        abo geht funktioniert problem mal zweimal hier da doch mir mich dir dich uns euch
        ihm ihn ihnen ab um uber vor sich so gibt bis ohne mehr leider eines werden
        konnte sollte darf diese dieser dieses diesen welche jede jeder alle alles
        andere anderen neue neuen keinen unter zwischen gegen durch wahrend beim ins
        nun dann denn etwas einfach wieder
        """,
    "pt": """
        o a os as de do da dos das em no na nos nas um uma uns umas e que se por para com
        nao sim mais mas como ja ainda muito meu minha meus minhas seu sua seus suas voce
        voces eu ele ela eles elas isso isto esse essa este esta aqui quando porque onde
        quem qual foi fui era estou esta estava tem tenho temos tinha ter fazer faco faz
        pode posso podem quero preciso obrigado obrigada ola oi bom dia boa tarde favor
        ajuda pedido encomenda conta senha entrega entregue recebi receber dinheiro
        reembolso cobrado compra comprei loja semana dias hoje ontem amanha nada ninguem
        nenhum funciona problema vezes duas tres resposta ate sem ao aos pelo pela pelos
        pelas num numa so agora depois sempre nunca tambem voce sao entao pouco outro
        outra outros mesmo mesma cada todo toda todos ser estar dar ir vou vai sobre
        entre contra desde apos durante atraves erro alguem algum alguma nenhuma
        """,
    "it": """
        il lo la i gli le di del della dei delle dello un uno una e che non per in con su
        da dal dalla al alla ai alle nel nella sono sei siamo siete ho hai ha abbiamo avete
        hanno mi ti ci si vi mio mia miei mie tuo tua suo sua nostro vostro loro questo
        questa quello quella ma o se come perche quando dove chi cosa anche ancora gia piu
        molto tutto tutti niente nulla nessuno sempre mai ora adesso oggi ieri domani
        settimana giorni grazie ciao buongiorno salve aiuto ordine conto rimborso consegna
        consegnato ricevuto pacco negozio abbonamento funziona problema volte due tre
        risposta posso puoi potete vorrei voglio devo deve fare fatto essere stato l' c'
        un' dell' all' nell' sull' dall' po' sto sta qui dopo prima solo avere stata
        puo pero cui quale quali ogni altro altra altri stesso nuovo nuova verso senza
        tra fra sopra sotto durante contro mentre quindi allora cosi degli agli dagli
        negli sugli sul sulla impossibile
        """,
    "nl": """
        de het een en van in is dat op te zijn met voor niet aan er om ook als bij maar nog
        wel dan uit naar of heb hebben heeft ik je jij u mijn uw we wij ze zij hij deze die
        dit wat waarom hoe wanneer waar kan kunnen moet wil geen nooit al nu vandaag
        gisteren morgen week dagen bestelling wachtwoord pakket levering geleverd ontvangen
        terug geld bedankt dank hallo hoi alstublieft graag hulp werkt probleem keer twee
        drie antwoord nog steeds al weer wordt worden was zou werd moeten alle andere
        nieuwe onder tussen tegen door tijdens over na zonder welke zich kon
        """,
}

# Letters that say something about the language (weights per occurrence, each letter counted
# at most three times).
_LETTERS: dict[str, dict[str, float]] = {
    "ñ": {"es": 1.0}, "¿": {"es": 1.0}, "¡": {"es": 1.0},
    "ã": {"pt": 1.0}, "õ": {"pt": 1.0}, "ç": {"fr": 0.5, "pt": 0.5},
    "ß": {"de": 1.0}, "ä": {"de": 0.7}, "ö": {"de": 0.7}, "ü": {"de": 0.7},
    "è": {"it": 0.5, "fr": 0.5}, "à": {"fr": 0.4, "it": 0.3, "pt": 0.3},
    "ù": {"fr": 0.3, "it": 0.5}, "ì": {"it": 1.0}, "ò": {"it": 1.0},
    "ê": {"fr": 0.5, "pt": 0.5}, "â": {"fr": 0.5, "pt": 0.5}, "ô": {"fr": 0.5, "pt": 0.5},
    "î": {"fr": 1.0}, "û": {"fr": 1.0}, "ë": {"fr": 0.5, "nl": 0.5}, "ï": {"fr": 0.5, "nl": 0.5},
    "œ": {"fr": 1.0}, "á": {"es": 0.3, "pt": 0.3}, "í": {"es": 0.3, "pt": 0.3},
    "ó": {"es": 0.3, "pt": 0.3}, "ú": {"es": 0.3, "pt": 0.3}, "é": {"fr": 0.3, "es": 0.1,
                                                                    "pt": 0.1, "it": 0.1},
}

# Endings of words that are not in the lists above (on the word with accents dropped).
_ENDINGS: tuple[tuple[str, dict[str, float]], ...] = (
    ("cion", {"es": 1.0}), ("ciones", {"es": 1.0}),
    ("cao", {"pt": 0.7}), ("coes", {"pt": 0.7}),
    ("zione", {"it": 1.0}), ("zioni", {"it": 1.0}),
    ("ung", {"de": 1.0}), ("ungen", {"de": 1.0}), ("heit", {"de": 1.0}), ("keit", {"de": 1.0}),
    ("lich", {"de": 0.7}),
    ("tion", {"en": 0.4, "fr": 0.4}), ("tions", {"en": 0.4, "fr": 0.4}),
    ("ement", {"fr": 0.6, "en": 0.2}), ("eux", {"fr": 0.7}), ("eau", {"fr": 0.7}),
    ("ing", {"en": 0.7}), ("ness", {"en": 0.7}),
    ("mente", {"es": 0.3, "pt": 0.3, "it": 0.3}),
    ("inho", {"pt": 0.7}), ("inha", {"pt": 0.7}),
    ("aggio", {"it": 0.7}), ("ibile", {"it": 0.7}), ("mento", {"it": 0.3, "pt": 0.3}),
    ("iendo", {"es": 0.7}), ("dad", {"es": 0.7}), ("dades", {"es": 0.5, "pt": 0.5}),
    ("dade", {"pt": 0.7}), ("agem", {"pt": 0.7}), ("ivel", {"pt": 0.7}),
    ("ando", {"es": 0.3, "pt": 0.3, "it": 0.3}), ("ado", {"es": 0.4, "pt": 0.4}),
    ("ada", {"es": 0.4, "pt": 0.4}), ("ato", {"it": 0.4}), ("ata", {"it": 0.4}),
    ("ique", {"fr": 0.7}), ("ees", {"fr": 0.7}), ("eur", {"fr": 0.5}), ("oir", {"fr": 0.5}),
    ("aient", {"fr": 0.7}), ("ait", {"fr": 0.5}), ("ez", {"fr": 0.5}),
    ("isch", {"de": 0.5}), ("chen", {"de": 0.4}), ("lijk", {"nl": 1.0}), ("heid", {"nl": 1.0}),
    ("tje", {"nl": 0.7}), ("ed", {"en": 0.4}), ("ly", {"en": 0.5}),
)

# Letter groups inside words that are not in the lists (the first that occurs counts).
_INSIDE: tuple[tuple[str, dict[str, float]], ...] = (
    ("sch", {"de": 0.4, "nl": 0.2}), ("ij", {"nl": 0.7}), ("tz", {"de": 0.3}),
    ("gli", {"it": 0.5}), ("zz", {"it": 0.3}), ("cch", {"it": 0.3}),
    ("nh", {"pt": 0.3}), ("lh", {"pt": 0.3}), ("th", {"en": 0.3}), ("w", {"en": 0.2, "de": 0.2,
                                                                          "nl": 0.2}),
)

# Scripts that name a language on their own: (language, character class)
_SCRIPTS: tuple[tuple[str, str], ...] = (
    ("ru", "\u0400-\u04ff"),
    ("el", "\u0370-\u03ff"),
    ("he", "\u0590-\u05ff"),
    ("ar", "\u0600-\u06ff\u0750-\u077f"),
    ("hi", "\u0900-\u097f"),
    ("th", "\u0e00-\u0e7f"),
    ("ko", "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"),
    ("ja", "\u3040-\u30ff"),
    ("zh", "\u3400-\u4dbf\u4e00-\u9fff"),
)
_SCRIPT_RES = tuple((lang, re.compile(f"[{cls}]")) for lang, cls in _SCRIPTS)
_NON_LATIN = re.compile("[\u0370-\u1fff\u3040-\u9fff\uac00-\ud7af]")
_UKRAINIAN = re.compile("[іїєґ]", re.IGNORECASE)
_PERSIAN = re.compile("[\u067e\u0686\u0698\u06af\u06cc]")
#: letters of a script language needed to say (one ideograph or syllable says more than one
#: letter of an alphabet)
_SCRIPT_MIN = {"zh": 4, "ja": 4, "ko": 4}
_SCRIPT_MIN_DEFAULT = 10

#: every language this detector can name (ISO 639-1)
DETECTABLE = frozenset(_WORDS) | {lang for lang, _ in _SCRIPTS} | {"uk", "fa"}

# Words: runs of letters (with inner apostrophes) that are not part of a URL, a domain or
# file name, an e-mail address, a @handle or a #hashtag, nor glued to digits ("i7", "980ti").
_TOKEN = re.compile(r"(?<![\w@#./:=&\]\\])[^\W\d_]+(?:'[^\W\d_]+)*'?(?![\w@/\[]|[.:]\w)")
_LATIN_LETTER = re.compile(r"[a-z\u00c0-\u024f]")

#: a Latin-script text needs this many words; its best language must score at least
#: _MIN_SCORE, and _MIN_MARGIN more than the second (see the module docstring)
_MIN_WORDS = 2
_MIN_SCORE = 1.0
_MIN_MARGIN = 0.5


def _script_scores(folded: str) -> dict[str, float] | None:
    """For a text mostly in a script that names its language: that language, enough to be
    detected (empty when too short); ``None`` when most letters are Latin."""
    counts = {lang: len(rx.findall(folded)) for lang, rx in _SCRIPT_RES}
    latin = len(_LATIN_LETTER.findall(" ".join(_TOKEN.findall(folded))))
    if sum(counts.values()) <= latin:
        return None
    if counts["ja"] and counts["zh"]:  # kanji among kana: Japanese
        counts["ja"] += counts.pop("zh")
    lang = max(counts, key=lambda k: counts[k])
    n = counts[lang]
    if lang == "ru" and _UKRAINIAN.search(folded):
        lang = "uk"
    elif lang == "ar" and _PERSIAN.search(folded):
        lang = "fa"
    if n < _SCRIPT_MIN.get(lang, _SCRIPT_MIN_DEFAULT):
        return {}
    return {lang: _MIN_SCORE + _MIN_MARGIN}


def _word_weights() -> dict[str, dict[str, float]]:
    langs_of: dict[str, list[str]] = {}
    for lang, words in _WORDS.items():
        for w in dict.fromkeys(words.split()):
            langs_of.setdefault(w, []).append(lang)
    return {w: {lang: 1.0 / len(ls) for lang in ls} for w, ls in langs_of.items()}


_WEIGHTS = _word_weights()
_STRIP_ACCENTS = {cp: None for cp in range(0x300, 0x370)}


def _add(scores: dict[str, float], weights: Mapping[str, float], times: float = 1.0) -> None:
    for lang, w in weights.items():
        scores[lang] = scores.get(lang, 0.0) + w * times


def _base(code: str) -> str:
    return code.strip().lower().replace("_", "-").split("-")[0]


class LanguageDetector:
    """Which of ``languages`` a short text is written in, or ``None`` when it cannot say.

    Deterministic, no model files, no state between calls. See the module docstring for what
    it knows and how well it does.
    """

    def __init__(self, languages: Iterable[str]) -> None:
        # the desk's code for each language the detector can name ("pt-br" for "pt")
        by_base: dict[str, str] = {}
        for code in sorted({c.strip().lower() for c in languages if c.strip()}):
            base = _base(code)
            if base in DETECTABLE and (base not in by_base or code == base):
                by_base[base] = code
        self._codes = by_base

    @property
    def languages(self) -> frozenset[str]:
        """The desk's languages this detector can name."""
        return frozenset(self._codes.values())

    def scores(self, text: str) -> dict[str, float]:
        """Evidence per language (every language the detector knows, not only the desk's);
        empty when the text is too short to say."""
        text = text[:MAX_CHARS]
        if text.isascii():
            plain = text.lower()
            scores: dict[str, float] = {}
        else:
            folded = text.casefold().translate(_FOLD_QUOTES)
            if _NON_LATIN.search(folded):
                script = _script_scores(folded)
                if script is not None:
                    return script
            scores = {}
            for ch, weights in _LETTERS.items():
                n = folded.count(ch)
                if n:
                    _add(scores, weights, min(n, 3))
            plain = unicodedata.normalize("NFD", folded).translate(_STRIP_ACCENTS)
        tokens = _TOKEN.findall(plain)
        if len(tokens) < _MIN_WORDS:
            return {}
        weights_of = _WEIGHTS
        for token in tokens:
            weights = weights_of.get(token)
            if weights is not None:
                _add(scores, weights)
                continue
            if "'" in token:  # n'est, l'appli, dell'ordine: the elided word, then the rest
                parts = token.split("'")
                for part in parts[:-1]:
                    weights = weights_of.get(part + "'")
                    if weights is not None:
                        _add(scores, weights)
                token = parts[-1]
                weights = weights_of.get(token)
                if weights is not None:
                    _add(scores, weights)
                    continue
            if len(token) >= 5:
                for ending, weights in _ENDINGS:
                    if token.endswith(ending):
                        _add(scores, weights)
                        break
                for group, weights in _INSIDE:
                    if group in token:
                        _add(scores, weights)
                        break
        return scores

    def detect(self, text: str) -> str | None:
        """The desk's code for the language of ``text``; ``None`` when the text is too short
        or too mixed to say, or is in a language not among ``languages``."""
        if not self._codes:
            return None
        scores = self.scores(text)
        if not scores:
            return None
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        best, top = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        if top < _MIN_SCORE or top - second < _MIN_MARGIN:
            return None
        return self._codes.get(best)


_FOLD_QUOTES = {ord(c): "'" for c in "\u2018\u2019\u201a\u201b\u02bc\u2032\u00b4\uff07"}


# --- tags -------------------------------------------------------------------------------


def _keyword_regex(keywords: Iterable[str]) -> re.Pattern[str] | None:
    """One regex for a tag's keywords: each a whole word or phrase of the folded text."""
    alternatives: list[str] = []
    for keyword in keywords:
        folded = fold(keyword).strip()
        if not folded:
            continue
        body = r"\s+".join(re.escape(part) for part in folded.split())
        head = r"(?<!\w)" if (folded[0].isalnum() or folded[0] == "_") else ""
        tail = r"(?!\w)" if (folded[-1].isalnum() or folded[-1] == "_") else ""
        alternatives.append(head + body + tail)
    if not alternatives:
        return None
    # longest first only for readability of the compiled form: any match is enough
    alternatives.sort(key=len, reverse=True)
    return re.compile("|".join(dict.fromkeys(alternatives)))


@dataclass(frozen=True, slots=True)
class _Rule:
    tag: str
    keywords: re.Pattern[str] | None
    patterns: tuple[tuple[str, regex.Pattern[str]], ...]


class Tagger:
    """Classifies new questions by ``routing.yaml``: tags from the channel and the text,
    language from the channel, the text, or the default. Built once per configuration;
    :meth:`classify` is pure (deterministic, no I/O)."""

    def __init__(self, routing: RoutingSettings, languages: Iterable[str]) -> None:
        self._routing = routing
        self._default = routing.languages.default
        desk = {*languages, self._default}
        desk.update(c.language for c in routing.channels if c.language)
        self._detector: LanguageDetector | None = (
            LanguageDetector(desk) if routing.languages.detect else None
        )
        self._channels = {(c.platform, c.conversation): c for c in reversed(routing.channels)}
        rules: list[_Rule] = []
        for rule in routing.tags:
            compiled = []
            for p in rule.patterns:
                compiled.append((p, regex.compile(p, regex.IGNORECASE | regex.VERSION0)))
            rules.append(_Rule(rule.tag, _keyword_regex(rule.keywords), tuple(compiled)))
        self._rules = tuple(rules)
        #: pattern searches abandoned after PATTERN_TIMEOUT since start
        self.timeouts = 0

    @property
    def detector(self) -> LanguageDetector | None:
        return self._detector

    def tags(self, text: str) -> frozenset[str]:
        """The tags whose keywords or patterns ``text`` (cut to :data:`MAX_CHARS`) holds."""
        text = text[:MAX_CHARS]
        folded = fold(text)
        found: set[str] = set()
        for rule in self._rules:
            if rule.tag in found:
                continue
            if rule.keywords is not None and rule.keywords.search(folded):
                found.add(rule.tag)
                continue
            for source, rx in rule.patterns:
                try:
                    hit = rx.search(text, timeout=PATTERN_TIMEOUT)
                except TimeoutError:
                    self.timeouts += 1
                    log.warning("tag %s: pattern %r timed out; not applied", rule.tag, source)
                    continue
                if hit:
                    found.add(rule.tag)
                    break
        return frozenset(found)

    def classify(self, platform: str, conversation: str, text: str) -> Classification:
        text = text[:MAX_CHARS]
        tags = self.tags(text)
        channel = self._channels.get((platform, conversation))
        if channel is not None:
            if channel.tags:
                tags = tags.union(channel.tags)
            if channel.language:
                return Classification(tags, channel.language, "channel")
        if self._detector is not None:
            language = self._detector.detect(text)
            if language is not None:
                return Classification(tags, language, "detected")
        return Classification(tags, self._default, "default")
