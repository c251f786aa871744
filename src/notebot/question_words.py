"""Words that shape a question rather than name its subject, in Chinese and English.

"Kinesis 的消费者为什么有时会把同一条记录读两次？" asks about 消费者 and 记录, not about 为什么 or
the bigrams 么有 and 会把 that only join its words; "According to the note, what is …?" asks about
something in the notes, not about a note. The refusal rule cuts a question into content slots
without these (search/coverage.py), and the web UI marks only a question's content terms in its
sources (apps/ui.py). Line scores keep them (tried: benchmarks/README.md, 2026-12-03). The
question's vector leaves out only the words that speak of the notes (NOTE_TALK).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .tokenize import CJK

GRAMMAR_CHARS = frozenset("的了吗呢吧啊么什怎哪几呀嘛")  # never part of a content word
FUNCTION_CHARS = GRAMMAR_CHARS | frozenset("是在有和与或及这那它其请给把被让对从到为会要能用个一来去就都也还里上下些")
QUESTION_BIGRAMS = frozenset(
    "多少 如何 为何 是否 可以 能否 需要 应该 一个 一下 有没 没有 不是 多大 多久 多长 一般 大概 通常 "
    "主要 比较 还是 要求 分别 各自 适合 适用 场景 两种 这两 什么 怎么 哪些 哪个 哪里 为什 区别 有什 么区 用来 用于 的是 一共 多高 多快 大多 几个 几种 "
    "笔记 提到 根据 按照 作者 笔者 建议 "  # the question speaking of the notes and their author ("笔记建议…", "作者觉得…")
    "觉得 认为 到底 究竟 归根 结底".split()  # what someone thinks, and emphasis ("到底是什么", "归根结底")
)
# Superlatives ask for an extreme: no content slot of the refusal rule, but the 最大 of "最大多大" is a
# word the learner looks for in a source ("Object最大5TB"), so content_text keeps it.
SUPERLATIVES = frozenset("最多 最长 最大 最小 最少".split())
QUESTION_WORDS = frozenset(
    "a an and are as at be by can could do does did for from how i in is it its of on or that the this to "
    "what when where which who whom whose why will with would you your my me we our us they their them "
    "should shall may might must has have had was were been being there here than then so if not no yes "
    "about into over under between both each any some all more most much many long big large small "
    "make sure get got use used using need needs want work works way ways thing things kind kinds "
    "typical typically usually really also just only very please tell explain mean means quickly often respectively "
    "note notes according mention mentions mentioned say says said "  # "according to the note, …"
    "recommend recommends recommended suggest suggests suggested "  # "…does the note recommend?"
    "author authors writer think thinks believe believes actually exactly basically essentially ultimately "
    "don doesn didn isn aren wasn weren hasn haven shouldn couldn wouldn won".split()  # "don't" without its "'t"
)
# The words a question uses to speak of the notes themselves ("what do my word embedding notes say",
# "笔记里", "我记的") describe no passage: the question's vector is made without them
# (search/retrieve.py embed_queries; benchmarks/README.md, 2026-12-04 22:48). 笔记本 stays: a notebook
# (SageMaker, Jupyter) or a laptop is a subject.
NOTE_TALK = re.compile(r"\b(?:in|according to|from|do|does|did)?\s*(?:my|the|these|this|our)\s+notes?\b(?:'s)?|\bnotes?\b"
                       r"|(?:我的|我)?笔记(?!本)(?:里|中|上)?|我记(?:的|得)", re.I)
# A question asking for a number: the refusal rule wants a default stated with a digit, the answer's
# re-rank of passages ranks them by their lines that state a number (search/coverage.py), and the
# answerer (extractive.py) prefers such lines. 几 asks how many only on its own: "哪几种" asks which
# kinds, "这几个" points, "举几个例子" wants a few. A superlative asks for a number unless it qualifies
# a thing ("最大的区别", "总得分最多的球员") or an action ("最大化"). "Softmax" and "admin" hold no
# max or min.
NUMBER_QUESTION = re.compile(r"多少|多大|多久|多长|(?<![哪这那前后好举列说给提讲写])几(?:个|种|倍|份|[天日秒年次]|分钟|个?小时)|how (?:much|many|long|big|large|fast|often|quickly)|what (?:size|limit)|(?<![a-z])max(?:imum)?\b|(?<![a-z])min(?:imum)?\b|\b(?:longest|largest|biggest|smallest)\b|(?:最大|最小|最多|最长)(?![的化])|上限", re.I)
CHINESE_RUN = re.compile(f"[{CJK}]+")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-]*")


def content_text(question: str) -> str:
    """The question with the words that shape it blanked out: English question words, Chinese
    question bigrams and grammar characters (a space in their place, so no bigram spans the gap)."""
    def chinese(match: re.Match) -> str:
        run = match.group()
        asking = bigram_positions(run, QUESTION_BIGRAMS) - bigram_positions(run, SUPERLATIVES)  # 最大 of 最大多大 stays
        return "".join(" " if i in asking or char in GRAMMAR_CHARS else char for i, char in enumerate(run))

    def latin(match: re.Match) -> str:
        return " " if match.group().lower() in QUESTION_WORDS else match.group()

    return LATIN_WORD.sub(latin, CHINESE_RUN.sub(chinese, question))


def bigram_positions(run: str, bigrams: frozenset) -> set[int]:
    """Positions of the characters of a Chinese run that belong to one of these bigrams."""
    return {k for j in range(len(run) - 1) if run[j : j + 2] in bigrams for k in (j, j + 1)}


def is_content_term(token: str, is_word: Callable[[str], bool]) -> bool:
    """A lexical token of the content text that names something. Not a Chinese character left alone
    between blanks (按, 里: the notes hold it alone only by chance), and a bigram holding a function
    character must be a word (`is_word`: 对象, 用户), not two words' edges joined (会把, 来配, 时会)."""
    if not CHINESE_RUN.fullmatch(token):
        return True
    if len(token) == 1:
        return False
    return not set(token) & FUNCTION_CHARS or (not set(token) <= FUNCTION_CHARS and is_word(token))


def without_note_talk(question: str) -> str:
    """The question without the words that speak of the notes (NOTE_TALK); the question as it is
    when fewer than four characters would be left ("my notes?")."""
    rest = " ".join(NOTE_TALK.sub(" ", question).split())
    return rest if len(rest) >= 4 else question
