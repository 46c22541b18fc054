/** The word lists of the semantic cache verification step (prompt-verifier.ts). English-centred heuristics. */
export const set = (s: string) => new Set(s.split(/\s+/).filter(Boolean));

/** Articles and determiners: never part of a relation. */
export const ARTICLES = set("a an the this that these those some any each every");
/** Function words: not content. (Negations are counted separately and are not content either.) */
export const STOP = set(`
  a an the this that these those some any each every of at on in over under to for from with by and or but is are was were be been being
  am do does did done doing have has had having it its as into onto than then so such very really just also too i me my mine we us our
  you your yours he him his she her they them their there here what which who whom whose when where why how whether if about
  can could would should will shall may might must let lets s d ll re ve m t up out off via per vs versus
`);
/** Instruction fillers: words that frame a request without changing what is asked. */
export const FILLER = set(`
  please tell give show explain describe write say list provide need want like know help kindly quick quickly briefly brief short
  simple simply thing things something way ways get got make tell answer question ask mean means meaning exactly actually
  hi hello hey thanks thank kind sort type one bit little lot lots much many
`);
export const NEGATIONS = set(`
  not no never none nobody nothing nowhere neither nor without cannot cant dont doesnt didnt isnt arent wasnt werent wont wouldnt
  shouldnt couldnt hasnt havent hadnt mustnt except excluding unless lacking ne pas jamais aucun sans nicht kein keine keinen ohne nie
  nunca nada ninguno sin non senza mai nao nem sem niet geen nooit zonder
`);
export const LETTER_NEXT = set("to and or from into with is are than by");
export const NUMBER_WORDS: Record<string, number> = {
  zero: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10, eleven: 11, twelve: 12,
  thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17, eighteen: 18, nineteen: 19, twenty: 20, thirty: 30,
  forty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90, hundred: 100, thousand: 1000, million: 1e6, billion: 1e9,
  dozen: 12, first: 1, second: 2, third: 3, fourth: 4, fifth: 5, sixth: 6, seventh: 7, eighth: 8, ninth: 9, tenth: 10,
  half: 0.5, twice: 2, double: 2, triple: 3, single: 1, pair: 2, couple: 2,
};
/** Proper nouns people often type in lower case: countries, big cities, languages, continents, planets, months, days. */
export const GAZETTEER = set(`
  afghanistan albania algeria argentina armenia australia austria belgium bolivia brazil bulgaria cambodia canada chile china colombia
  croatia cuba cyprus czechia denmark egypt england estonia ethiopia finland france georgia germany ghana greece hungary iceland india
  indonesia iran iraq ireland israel italy jamaica japan jordan kenya korea latvia lebanon libya lithuania luxembourg malaysia mexico
  mongolia morocco nepal netherlands nigeria norway pakistan peru philippines poland portugal romania russia scotland serbia singapore
  slovakia slovenia spain sweden switzerland syria taiwan thailand tunisia turkey uganda ukraine uruguay venezuela vietnam wales yemen
  zimbabwe america usa uk europe asia africa antarctica oceania paris london berlin madrid rome lisbon vienna prague warsaw budapest
  athens dublin amsterdam brussels moscow beijing shanghai tokyo osaka seoul delhi mumbai bangkok sydney melbourne toronto montreal
  vancouver chicago boston seattle york angeles francisco miami cairo lagos nairobi istanbul dubai english french spanish german italian
  portuguese dutch russian chinese japanese korean arabic hindi greek turkish polish swedish latin mercury venus earth mars jupiter
  saturn uranus neptune pluto january february march april june july august september october november december monday tuesday
  wednesday thursday friday saturday sunday python java javascript typescript rust golang kotlin swift ruby php haskell
`);
/** Opposites: a prompt with one where the other has the other asks the opposite thing. */
export const ANTONYMS: [string, string][] = [
  ["increase", "decrease"], ["raise", "lower"], ["hot", "cold"], ["warm", "cool"], ["largest", "smallest"], ["biggest", "smallest"],
  ["highest", "lowest"], ["best", "worst"], ["before", "after"], ["buy", "sell"], ["up", "down"], ["maximum", "minimum"], ["max", "min"],
  ["ascending", "descending"], ["add", "remove"], ["win", "lose"], ["true", "false"], ["north", "south"], ["east", "west"],
  ["left", "right"], ["open", "close"], ["start", "stop"], ["first", "last"], ["cheap", "expensive"], ["fast", "slow"],
  ["old", "new"], ["young", "old"], ["long", "short"], ["more", "less"], ["most", "least"], ["above", "below"], ["inside", "outside"],
  ["encrypt", "decrypt"], ["encode", "decode"], ["compress", "decompress"], ["import", "export"], ["upload", "download"],
  ["positive", "negative"], ["pro", "con"], ["advantage", "disadvantage"], ["benefit", "drawback"], ["early", "late"],
  ["light", "dark"], ["happy", "sad"], ["easy", "hard"], ["easy", "difficult"], ["safe", "dangerous"], ["legal", "illegal"],
  ["uppercase", "lowercase"], ["sunrise", "sunset"], ["dawn", "dusk"], ["summer", "winter"], ["male", "female"], ["boy", "girl"],
  ["day", "night"], ["morning", "evening"], ["mean", "median"], ["sum", "product"], ["multiply", "divide"], ["plus", "minus"],
  ["formal", "informal"], ["simplest", "hardest"], ["strength", "weakness"], ["love", "hate"], ["include", "exclude"],
];
export const OPPOSITE = new Map<string, Set<string>>();
for (const [a, b] of ANTONYMS) {
  (OPPOSITE.get(a) ?? OPPOSITE.set(a, new Set()).get(a)!).add(b);
  (OPPOSITE.get(b) ?? OPPOSITE.set(b, new Set()).get(b)!).add(a);
}
/** A few common synonyms, folded to one word before the content and order checks. */
export const SYNONYMS: Record<string, string> = {
  compose: "write", create: "make", generate: "make", produce: "make", draft: "write", pen: "write",
  ocean: "sea", photo: "picture", photograph: "picture", image: "picture", illustration: "picture", drawing: "picture",
  big: "large", huge: "large", small: "little", tiny: "little", fast: "quick", rapid: "quick", quickly: "quick",
  automobile: "car", kid: "child", children: "child", people: "person", film: "movie", begin: "start", finish: "end",
  purchase: "buy", shop: "store", summarise: "summarize", summary: "summarize", recap: "summarize", colour: "color",
  favourite: "favorite", centre: "center", capitol: "capital", cheapest: "cheap", fastest: "quick", autumn: "fall",
  sum: "total", calculate: "compute", recipes: "recipe", main: "capital", directions: "instructions", steps: "instructions",
  tips: "advice", suggestions: "advice", ideas: "idea", us: "usa",
};

