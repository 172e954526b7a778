"""Tags and language of a new question, from ``routing.yaml``'s channels, tags and languages.

``Tagger(routing, languages).classify(platform, conversation, text)`` returns a
:class:`Classification`: the tags of the question's channel plus those its text earns, and
its language with where that came from (``"channel"``, ``"detected"`` or ``"default"``).

Tags
    *Keywords* match whole words or phrases (any run of whitespace between a phrase's words)
    in any case and with or without accents, both ways: the text and the keyword are folded
    alike (:func:`fold`: case folding, ``ß`` → ``ss``, the combining accents U+0300-U+036F
    dropped, curly apostrophes made straight), so ``factura`` matches ``FACTURA``,
    ``reembolso`` matches ``Reembolsó`` and ``reembolsó`` matches ``reembolso``. The price
    of that choice: words that differ only by an accent (es ``año``/``ano``, pt ``é``/``e``)
    are one keyword; write a pattern to tell them apart. "Whole word": ``order`` does not
    tag ``border``, ``orders`` or ``order_id`` (list the plural too), but does tag
    ``order-number`` and ``#order``. In scripts written without spaces (Chinese, Japanese,
    Thai) a keyword matches inside a run of characters. All keywords are compiled into one
    regex (one scan per text, whatever the number of tags).

    *Patterns* are Python regular expressions, searched case-insensitively in the text as
    written (accents kept), with the ``regex`` module in its ``re``-compatible mode so that a
    search that backtracks for more than :data:`PATTERN_TIMEOUT` is abandoned (logged,
    counted in ``Tagger.timeouts``; the tag is then not given).

    Texts are cut to :data:`MAX_CHARS` (4,096) characters before tagging; detection reads the
    first :data:`DETECT_CHARS` (1,024).

Language
    The channel's language when it has one (``routing.channels``); else, when
    ``languages.detect`` is on, the detected language if the text is long enough to say and
    the language is one the desk answers in (the roster's, the channels' and the default:
    ``languages``); else ``languages.default``. "ok", "thanks!", an emoji, a URL, a single
    word or a text whose two best languages score alike all take the default, and so does a
    text in a language the desk does not answer in (a Spanish text at an en/fr desk is not
    guessed as French). Detection is skipped when it could only say the default language.

Language detection: a small hand-written detector, chosen by measurement
    :class:`LanguageDetector` scores a text by its frequent words (~100-250 per language,
    function words and helpdesk words; a word in k languages weighs 1/k), letters (``ñ``,
    ``ã``, ``ß``, ``ò`` ...), word endings (``-ción``, ``-ção``, ``-zione``, ``-ung``) and a
    few letter groups, over words that are not parts of URLs, domains, e-mail addresses,
    @handles, #hashtags or glued to digits. It needs two words, a best score of at least 1
    and a lead of at least 0.5 over the second language; otherwise it says nothing and the
    default applies. It knows en, es, fr, de, pt, it and nl by their words, and ru, uk, el,
    he, ar, fa, hi, th, ko, ja and zh by their scripts (:data:`DETECTABLE`); other languages
    (sv, pl, tr, ca ...) are never detected and take the default. Deterministic, no model
    files, no dependencies.

    Measured on this project's 2-core machine (Python 3.11) against four libraries, each in
    its own process, all restricted to en es fr de pt it nl (``python
    benchmarks/bench_tagging.py --compare``, with the libraries installed in the venv:
    ``pip install lingua-language-detector==2.1.1 py3langid==0.4.0 langdetect==1.0.9``):

    =============  =========  ======  ========  ==========  ===========  =======  =====
    detector       labelled   short   corpus    UI strings  µs/280       RSS MB   disk
    =============  =========  ======  ========  ==========  ===========  =======  =====
    this module    99.0/0.0   0/40    0.1/1.9   84.8/1.0    38-66        < 2      0
    lingua, low    97.1/2.9   21/40   1.8/0.0   91.4/8.6    250-360      +15-22   100
    lingua, high   100/0.0    29/40   1.7/0.0   96.5/3.5    250-350      +230-295 100
    py3langid      99.0/1.0   40/40   0.6/0.0   98.4/1.6    87-119       +86-88   76
    langdetect     97.1/1.0   12/40   0.3/0.7   93.3/4.5    2,550-4,700  +62      3
    =============  =========  ======  ========  ==========  ===========  =======  =====

    (ranges: three or more runs, some while other processes used the CPUs; the accuracy
    figures do not vary.)

    *labelled*: % right / % wrong on the 105 short customer messages of
    tests/test_tagging.py (15 per language; written before the word lists, but the lists
    were tuned in sight of them, so this column flatters this module); *short*: of its 40
    too-short texts, how many got a language; *corpus*: the 1,177 customer messages of the
    IBM CDP corpus (English), % given another language / % left to the default (the one
    "wrong" is a message in German); *UI strings*: % right / % wrong on 2,100 real short
    texts nobody here wrote (300 per language, translated one-line messages of the Debian
    packages' gettext catalogues on this machine; 39 of them overlap the sample that was
    looked at while writing the word lists): the fair column; *µs/280*: one call on a
    280-character text; *RSS*: resident memory the import and the detector add (this module:
    0.2-0.3 MB in a process that has loaded the config, < 1 MB once its cache of 4,096
    unknown words is full; 1.6-1.9 MB in a bare process); *disk*: installed MB with
    dependencies (py3langid: numpy).

    Why not a library: the daemon's budget is 150 MB RSS with ~90 MB used, which rules out
    py3langid (+88 MB, peak +106 MB while loading its model; the most accurate on the UI
    strings) and lingua in high-accuracy mode (+230-295 MB), and langdetect is too slow
    (2.5-4.7 ms a call; random unless seeded). Lingua's low-accuracy mode fits (+15-22 MB,
    100 MB on disk) but is 6-8x slower and wrong 3-9 % of the time where this
    module is wrong ~1 % and says "don't know" instead (14 % of the terse UI strings, 2 %
    of the corpus). For routing, a wrong language is worse than none: the question goes to
    staff who cannot read it, while "don't know" routes it in the default language as
    before. No library abstains on "ok" or "thanks!" without a length gate of our own.
    The cost of this choice is coverage: 7 languages by words (+11 by script), where the
    libraries know 55-75; adding one means a word list here and labelled tests.

Speed (``python benchmarks/bench_tagging.py``): the 1,177 corpus messages (161 characters
on average) with the example routing.yaml's 6 tags: 25,000-27,000 classifications/s,
36-39 µs mean, p99 ~100 µs (tags 11-13 µs, detection ~20 µs); the worst 4,096-character
input ~0.9 ms.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import regex

from helpforce.config.routing import RoutingSettings

__all__ = [
    "DETECTABLE",
    "DETECT_CHARS",
    "MAX_CHARS",
    "PATTERN_TIMEOUT",
    "Classification",
    "LanguageDetector",
    "Tagger",
    "fold",
]

log = logging.getLogger(__name__)

#: texts are cut to this many characters before tagging and detection (Telegram's maximum
#: message, the longest of the platforms)
MAX_CHARS = 4096
#: language detection reads this many characters (enough to say; bounds the work)
DETECT_CHARS = 1024
#: one tag pattern's search is abandoned after this long (the pattern then does not match)
PATTERN_TIMEOUT = 0.005


@dataclass(frozen=True, slots=True)
class Classification:
    """What :meth:`Tagger.classify` found out about a question."""

    tags: frozenset[str]
    language: str
    #: where ``language`` came from: ``"channel"``, ``"detected"`` or ``"default"``
    language_source: str


# --- folding ----------------------------------------------------------------------------

_MARKS = re.compile("[\u0300-\u036f]+")
# apostrophes and quotes as phones type them
_APOSTROPHES = "\u2018\u2019\u201a\u201b\u02bc\u2032\u00b4\uff07"
_QUOTES = "\u201c\u201d\u201e\u201f\u2033"
_CURLY = re.compile(f"[{_APOSTROPHES}{_QUOTES}]")
_STRAIGHT = {ord(c): "'" for c in _APOSTROPHES} | {ord(c): '"' for c in _QUOTES}


def fold(text: str) -> str:
    """``text`` as keywords are matched: case-folded (``Straße`` → ``strasse``), accents on
    letters dropped (the combining marks U+0300-U+036F after NFD: ``Reembolsó`` →
    ``reembolso``, ``ÇA`` → ``ca``), curly apostrophes and quotes made straight. Other
    scripts' marks (kana voicing, Indic vowel signs) are kept."""
    if text.isascii():
        return text.lower()
    text = _MARKS.sub("", unicodedata.normalize("NFD", text.casefold()))
    for ch in set(_CURLY.findall(text)):
        text = text.replace(ch, _STRAIGHT[ord(ch)])
    return unicodedata.normalize("NFC", text)


def _straight_apostrophes(text: str) -> str:
    if "\u2019" in text:
        text = text.replace("\u2019", "'")
    if "\u02bc" in text:
        text = text.replace("\u02bc", "'")
    return text


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
        never ever back out up down off over twice tried trying keeps says said
        know think see look tell let ask told asked call called take give thing way
        because while through same own first one two three good bad right wrong able
        sure sorry without within between during under until new used using found
        cannot unable failed there's what's that's let's should've via
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
        estoy estan fue sido solo nunca siempre ahora despues entonces aqui alli
        correo movil pago tarjeta cliente servicio alguien nuevo nueva otros mismo
        misma bien mal cada cuales podria seria tener decir dice dicen ver dar ir voy
        vamos va tenemos saludos ayudar ayudarme segun hacia contra aunque mientras pues
        asi ademas tampoco ninguno ninguna alguna alguno mucha usando
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
        quem qual foi fui era estou estava tem tenho temos tinha ter fazer faco faz
        pode posso podem quero preciso obrigado obrigada ola oi bom dia boa tarde favor
        ajuda pedido encomenda conta senha entrega entregue recebi receber dinheiro
        reembolso cobrado compra comprei loja semana dias hoje ontem amanha nada ninguem
        nenhum funciona problema vezes duas tres resposta ate sem ao aos pelo pela pelos
        pelas num numa so agora depois sempre nunca tambem sao entao pouco outro
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
        drie antwoord steeds weer wordt worden was zou werd moeten alle andere
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
    "ó": {"es": 0.3, "pt": 0.3}, "ú": {"es": 0.3, "pt": 0.3},
    "é": {"fr": 0.3, "es": 0.1, "pt": 0.1, "it": 0.1},
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
    ("nh", {"pt": 0.3}), ("lh", {"pt": 0.3}), ("th", {"en": 0.3}),
    ("w", {"en": 0.2, "de": 0.2, "nl": 0.2}),
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
#: the script of a text is judged on its first characters
_SCRIPT_SAMPLE = 256

#: every language this detector can name (ISO 639-1)
DETECTABLE = frozenset(_WORDS) | {lang for lang, _ in _SCRIPTS} | {"uk", "fa"}

# Words: runs of letters (with inner apostrophes) that are not part of a URL, a domain or
# file name, an e-mail address, a @handle or a #hashtag, nor glued to digits ("i7", "980ti").
_TOKEN = re.compile(r"(?<![\w@#./:=&\]\\])[^\W\d_]+(?:'[^\W\d_]+)*'?(?![\w@/\[]|[.:]\w)")
_ASCII_TOKEN = re.compile(
    r"(?<![\w@#./:=&\]\\])[a-z]+(?:'[a-z]+)*'?(?![\w@/\[]|[.:]\w)", re.ASCII
)
_LATIN_LETTER = re.compile(r"[a-z\u00c0-\u024f]")

#: a Latin-script text needs this many words; its best language must score at least
#: _MIN_SCORE, and _MIN_MARGIN more than the second (see the module docstring)
_MIN_WORDS = 2
_MIN_SCORE = 1.0
_MIN_MARGIN = 0.5


def _script_scores(folded: str) -> dict[str, float] | None:
    """For a text mostly in a script that names its language: that language, enough to be
    detected (empty when too short); ``None`` when most letters are Latin."""
    folded = folded[:_SCRIPT_SAMPLE]
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


#: the languages scored on words, in the order of the score vectors
_LATIN = tuple(sorted(_WORDS))
_INDEX = {lang: i for i, lang in enumerate(_LATIN)}
Cues = tuple[tuple[int, float], ...]


def _cues(weights: Mapping[str, float]) -> Cues:
    return tuple((_INDEX[lang], w) for lang, w in sorted(weights.items()))


def _word_cues() -> dict[str, Cues]:
    langs_of: dict[str, list[str]] = {}
    for lang, words in _WORDS.items():
        for w in dict.fromkeys(words.split()):
            langs_of.setdefault(w, []).append(lang)
    return {w: _cues({lang: 1.0 / len(ls) for lang in ls}) for w, ls in langs_of.items()}


_WORD_CUES = _word_cues()
_LETTER_CUES = {ch: _cues(w) for ch, w in _LETTERS.items()}
_CUE_LETTER = re.compile("[" + "".join(_LETTERS) + "]")
_ENDING_CUES = {ending: _cues(w) for ending, w in _ENDINGS}
_ENDING_LENGTHS = tuple(sorted({len(e) for e in _ENDING_CUES}, reverse=True))
_INSIDE_CUES = tuple((group, _cues(w)) for group, w in _INSIDE)


@lru_cache(maxsize=4096)
def _unknown_word_cues(word: str) -> Cues:
    """Cues from the ending and the letter groups of a word that is in no list (cached: the
    words customers use repeat)."""
    out: Cues = ()
    for n in _ENDING_LENGTHS:
        cues = _ENDING_CUES.get(word[-n:])
        if cues is not None:
            out = cues
            break
    for group, cues in _INSIDE_CUES:
        if group in word:
            return out + cues
    return out


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
        for code in sorted({c.strip() for c in languages if c.strip()}):
            base = _base(code)
            if base in DETECTABLE and (base not in by_base or code.lower() == base):
                by_base[base] = code
        self._codes = by_base

    @property
    def languages(self) -> frozenset[str]:
        """The desk's languages this detector can name."""
        return frozenset(self._codes.values())

    def scores(self, text: str) -> dict[str, float]:
        """Evidence per language (every language the detector knows, not only the desk's);
        empty when the text is too short to say."""
        text = text[:DETECT_CHARS]
        acc = [0.0] * len(_LATIN)
        if text.isascii():
            tokens = _ASCII_TOKEN.findall(text.lower())
        else:
            folded = _straight_apostrophes(text.casefold())
            if _NON_LATIN.search(folded):
                script = _script_scores(folded)
                if script is not None:
                    return script
            for ch in set(_CUE_LETTER.findall(folded)):
                n = min(folded.count(ch), 3)
                for i, w in _LETTER_CUES[ch]:
                    acc[i] += w * n
            # accents dropped, then every other non-ASCII character made a "?" (ß, œ, dashes,
            # emoji, no-break spaces: word boundaries or, rarely, a split word)
            plain = _MARKS.sub("", unicodedata.normalize("NFD", folded))
            tokens = _ASCII_TOKEN.findall(plain.encode("ascii", "replace").decode("ascii"))
        if len(tokens) < _MIN_WORDS:
            return {}
        words = _WORD_CUES
        for token in tokens:
            cues = words.get(token)
            if cues is None:
                if "'" in token:  # n'est, l'appli, dell'ordine: the elided words, then the rest
                    parts = token.split("'")
                    for part in parts[:-1]:
                        for i, w in words.get(part + "'", ()):
                            acc[i] += w
                    token = parts[-1]
                    cues = words.get(token)
                if cues is None:
                    cues = _unknown_word_cues(token) if len(token) >= 5 else ()
            for i, w in cues:
                acc[i] += w
        return {lang: acc[i] for i, lang in enumerate(_LATIN) if acc[i]}

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



# --- tags -------------------------------------------------------------------------------

# scripts written without spaces between words: a keyword in them matches inside a run
_UNSPACED = re.compile("[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")


def _edge(ch: str) -> bool:
    """Whether a keyword that starts or ends with ``ch`` must meet a word boundary there."""
    return (ch.isalnum() or ch == "_") and not _UNSPACED.match(ch)


def _keyword_body(folded: str) -> str:
    return r"\s+".join(re.escape(part) for part in folded.split())


class _Keywords:
    """Every tag's keywords in one regex over the folded text: each a whole word or phrase
    (any run of whitespace between its words).

    One scan finds, at each word start, the longest keyword there (alternatives longest
    first); the tags of the shorter keywords that are whole-word prefixes of it ("price" in
    "price match") are added from a table built here, and after a phrase the scan goes on
    from its next character, so keywords that start inside a match are found too. Keywords
    that start or end with a symbol, or are in a script written without spaces, carry their
    own boundary checks in a second regex.
    """

    def __init__(self, rules: Iterable[tuple[str, Iterable[str]]]) -> None:
        tags_of: dict[str, set[str]] = {}
        for tag, keywords in rules:
            for keyword in keywords:
                folded = " ".join(fold(keyword).split())
                if folded:
                    tags_of.setdefault(folded, set()).add(tag)
        plain: list[str] = []
        other: list[str] = []
        alone: dict[str, re.Pattern[str]] = {}
        for keyword in sorted(tags_of, key=lambda k: (-len(k), k)):
            head, tail = _edge(keyword[0]), _edge(keyword[-1])
            body = _keyword_body(keyword)
            if head and tail:
                plain.append(body)
            else:
                other.append((r"(?<!\w)" if head else "") + body + (r"(?!\w)" if tail else ""))
            alone[keyword] = re.compile(
                (r"(?<!\w)" if head else "") + body + (r"(?!\w)" if tail else "")
            )
        # a match of k also holds every keyword that matches at its start
        self._tags: dict[str, frozenset[str]] = {
            k: frozenset(t for k2, rx in alone.items() if rx.match(k) for t in tags_of[k2])
            for k in tags_of
        }
        self._regexes = tuple(
            re.compile(rx)
            for rx in (
                r"(?<!\w)(?:" + "|".join(plain) + r")(?!\w)" if plain else None,
                "|".join(other) if other else None,
            )
            if rx is not None
        )
        self.all_tags = frozenset(t for ts in tags_of.values() for t in ts)

    def find(self, folded: str) -> set[str]:
        found: set[str] = set()
        for rx in self._regexes:
            m = rx.search(folded)
            while m is not None:
                key = m.group()
                tags = self._tags.get(key)
                if tags is None:  # a phrase with other whitespace between its words
                    tags = self._tags[" ".join(key.split())]
                found.update(tags)
                if len(found) == len(self.all_tags):
                    return found
                # no keyword starts inside a single word (a match needs a word start)
                m = rx.search(folded, m.end() if key.isalnum() else m.start() + 1)
        return found


class _Pattern:
    """A manager's tag pattern, case-insensitive, each search bounded in time."""

    __slots__ = ("source", "_rx", "_re")

    def __init__(self, source: str) -> None:
        self.source = source
        self._rx: regex.Pattern[str] | None = None
        self._re: re.Pattern[str] | None = None
        try:  # the regex module's version 0 is re's syntax, and a search can time out
            self._rx = regex.compile(source, regex.IGNORECASE | regex.VERSION0)
        except regex.error:  # validated with re.compile: fall back to re, unbounded
            self._re = re.compile(source, re.IGNORECASE)

    def search(self, text: str) -> bool:
        """Raises TimeoutError after :data:`PATTERN_TIMEOUT`."""
        if self._rx is not None:
            return self._rx.search(text, timeout=PATTERN_TIMEOUT) is not None
        assert self._re is not None
        return self._re.search(text) is not None




class Tagger:
    """Classifies new questions by ``routing.yaml``: tags from the channel and the text,
    language from the channel, the text, or the default.

    Built once per configuration (keywords and patterns compiled here); :meth:`classify` is
    deterministic and does no I/O.
    """

    def __init__(self, routing: RoutingSettings, languages: Iterable[str]) -> None:
        self._default = routing.languages.default
        desk = {*languages, self._default}
        desk.update(c.language for c in routing.channels if c.language)
        self.detector = LanguageDetector(desk)
        # detection is skipped when it could only ever say the default language
        self._detect = routing.languages.detect and not self.detector.languages <= {
            self._default
        }
        # the first channel listed for a conversation wins, as in RoutingSettings.channel
        self._channels = {(c.platform, c.conversation): c for c in reversed(routing.channels)}
        self._keywords = _Keywords((r.tag, r.keywords) for r in routing.tags)
        self._patterns = tuple(
            (r.tag, tuple(_Pattern(p) for p in r.patterns)) for r in routing.tags if r.patterns
        )
        #: pattern searches abandoned after PATTERN_TIMEOUT (the pattern then did not match)
        self.timeouts = 0

    def tags(self, text: str) -> frozenset[str]:
        """The tags whose keywords or patterns ``text`` (cut to :data:`MAX_CHARS`) holds."""
        text = text[:MAX_CHARS]
        found = self._keywords.find(fold(text))
        for tag, patterns in self._patterns:
            if tag in found:
                continue
            for pattern in patterns:
                try:
                    hit = pattern.search(text)
                except TimeoutError:
                    self.timeouts += 1
                    log.warning("tag %s: pattern %r took over %.0f ms; skipped", tag,
                                pattern.source, PATTERN_TIMEOUT * 1000)
                    continue
                if hit:
                    found.add(tag)
                    break
        return frozenset(found)

    def classify(self, platform: str, conversation: str, text: str) -> Classification:
        """Tags (the channel's and the text's) and language (the channel's, else detected
        when ``languages.detect`` and the text says, else ``languages.default``)."""
        text = text[:MAX_CHARS]
        tags = self.tags(text)
        channel = self._channels.get((platform, conversation))
        if channel is not None:
            if channel.tags:
                tags = tags.union(channel.tags)
            if channel.language:
                return Classification(tags, channel.language, "channel")
        if self._detect:
            language = self.detector.detect(text)
            if language is not None:
                return Classification(tags, language, "detected")
        return Classification(tags, self._default, "default")
