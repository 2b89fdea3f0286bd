#!/usr/bin/env bash
# gen-prompts.sh regenerates the voice prompts that ship embedded in the engine
# (ivr/prompts): Mandarin and English speech made with espeak-ng, a beep and a hold-music
# loop made with sox. Every file is 8 kHz mono 16-bit PCM WAV.
#
# The output is deterministic (espeak-ng is, and sox runs with -R, a fixed random seed,
# and -D, no dither), so running it again on the same versions leaves git unchanged.
# Different espeak-ng or sox versions may produce slightly different audio.
#
# Usage: scripts/gen-prompts.sh [OUTDIR]     (default ivr/prompts)
# Needs: espeak-ng, sox (scripts/install-test-deps.sh installs both).
set -euo pipefail

cd "$(dirname "$0")/.."
out=${1:-ivr/prompts}

# espeak-ng 1.51 turns Chinese characters into pinyin and then reads that pinyin with
# the voice's rules for Latin letters: the plain `cmn` voice (Latin read as English)
# therefore speaks gibberish for every character. `cmn-latn-pinyin` reads it right.
ZH_VOICE=${ZH_VOICE:-cmn-latn-pinyin}
EN_VOICE=${EN_VOICE:-en-us}
ZH_SPEED=${ZH_SPEED:-200}  # words per minute
EN_SPEED=${EN_SPEED:-180}
SPEECH_GAIN=-3             # speech peaks normalised to -3 dBFS
BEEP_GAIN=-6               # the beep is a pure tone: quieter than speech
MUSIC_GAIN=-12             # hold music stays in the background

for tool in espeak-ng sox; do
	command -v "$tool" >/dev/null || {
		echo "gen-prompts: $tool not found (run scripts/install-test-deps.sh)" >&2
		exit 1
	}
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Output format shared by every file. -R: repeatable (fixed seeds); -D: no dither, so
# silence stays digital silence and the files are reproducible.
SOX=(sox -R -D -V1)
FMT=(-r 8000 -c 1 -b 16 -e signed-integer)

# speak VOICE SPEED TEXT FILE: one espeak-ng segment (22.05 kHz mono WAV).
speak() {
	espeak-ng -b 1 -v "$1" -s "$2" -w "$4" "$3"
}

# say LANG VOICE SPEED NAME TEXT writes $out/LANG/NAME.wav. TEXT may embed English
# segments as [en:...]: they are spoken with the English voice and joined in place
# (the Mandarin voice would read them as pinyin).
say() {
	local lang=$1 voice=$2 speed=$3 name=$4 text=$5
	# Numbers are joined one after another when a number is said: keep them tight.
	local pad=0.08
	case $name in num_*) pad=0.02 ;; esac
	mkdir -p "$out/$lang"

	local segs=() n=0 rest=$text
	while [[ $rest =~ ^([^[]*)\[en:([^]]*)\](.*)$ ]]; do
		if [ -n "${BASH_REMATCH[1]}" ]; then
			speak "$voice" "$speed" "${BASH_REMATCH[1]}" "$tmp/seg$n.wav"
			segs+=("$tmp/seg$n.wav")
			n=$((n + 1))
		fi
		local en=${BASH_REMATCH[2]}
		rest=${BASH_REMATCH[3]}
		speak "$EN_VOICE" "$EN_SPEED" "$en" "$tmp/seg$n.wav"
		segs+=("$tmp/seg$n.wav")
		n=$((n + 1))
	done
	if [ -n "$rest" ]; then
		speak "$voice" "$speed" "$rest" "$tmp/seg$n.wav"
		segs+=("$tmp/seg$n.wav")
	fi
	if [ ${#segs[@]} -eq 1 ]; then
		mv "${segs[0]}" "$tmp/raw.wav"
	else
		"${SOX[@]}" "${segs[@]}" "$tmp/raw.wav"
	fi
	rm -f "$tmp"/seg*.wav

	# Resample, cut the leading/trailing near-silence down to $pad, normalise.
	"${SOX[@]}" "$tmp/raw.wav" "${FMT[@]}" "$out/$lang/$name.wav" \
		highpass 80 rate -h 8000 \
		silence 1 0.02 -50d reverse silence 1 0.02 -50d reverse pad "$pad" "$pad" \
		gain -n "$SPEECH_GAIN"
	echo "  $lang/$name.wav"
}

# Each table line is NAME|TEXT. Numbers are spelled out where a digit string would be
# read as one big number ("12345" -> "one two three four five"); "再听一遍" (hear it
# again) replaces "重听", which espeak-ng reads zhong4 ting1 instead of chong2 ting1.
zh_prompts() {
	cat <<'EOF'
welcome|您好，欢迎致电一二三四五市民服务热线。
main_menu|咨询、求助、投诉请按1；营商环境专席请按2；人才政策专席请按3；户籍业务专席请按4；查询工单办理进度请按5；[en:For English service, press 9.]人工服务请按0；再听一遍请按星号键。
invalid_choice|您的输入有误，请重新选择。
no_input|我们没有收到您的按键，请重新选择。
goodbye|感谢您的来电，再见。
connecting|正在为您转接，请稍候。
desk_general|您已进入咨询、求助、投诉服务队列，请稍候。
desk_business|您已进入营商环境专席队列，请稍候。
desk_talent|您已进入人才政策专席队列，请稍候。
desk_household|您已进入户籍业务专席队列，请稍候。
desk_followup|您已进入工单进度查询队列，请稍候。
desk_foreign|您已进入外语服务队列，请稍候。
followup_enter|请输入您的工单编号，以井号键结束。
message_prompt|请在提示音后留言，按井号键结束。
message_saved|您的留言已保存，我们会尽快与您联系。
closed|现在是非工作时间，人工服务暂不可用。
queue_position|您前面还有
queue_position_after|位来电者。
queue_wait|预计等待
queue_minutes|分钟。
callback_offer|如需稍后回电，请按1。
callback_confirm|好的，我们会按您现在的排队顺序给您回电，再见。
survey_prompt|请对本次服务进行评价：满意请按1，基本满意请按2，不满意请按3。
survey_thanks|感谢您的评价，再见。
followup_intro|您好，这里是一二三四五市民服务热线回访。您反映的问题已经办理完毕。
ticket_not_found|没有找到该工单，请核对编号后再试。
ticket_open|您的工单已受理，正在办理中。
ticket_dispatched|您的工单已派发至承办部门，正在办理中。
ticket_replied|承办部门已经答复，等待办结。
ticket_closed|您的工单已经办结。
num_0|零
num_1|一
num_2|二
num_3|三
num_4|四
num_5|五
num_6|六
num_7|七
num_8|八
num_9|九
num_10|十
num_100|百
num_1000|千
num_10000|万
EOF
}

en_prompts() {
	cat <<'EOF'
welcome|Welcome to the one two three four five citizen service hotline.
main_menu|For consultation, help or complaints, press 1. Business environment desk, press 2. Talent policy desk, press 3. Household registration desk, press 4. To follow up on a work order, press 5. For an agent, press 0. To repeat, press star.
invalid_choice|Sorry, that is not a valid choice. Please try again.
no_input|We did not receive your choice. Please try again.
goodbye|Thank you for calling. Goodbye.
connecting|Connecting you now. Please hold.
desk_general|You are in the queue of the consultation, help and complaints desk. Please hold.
desk_business|You are in the queue of the business environment desk. Please hold.
desk_talent|You are in the queue of the talent policy desk. Please hold.
desk_household|You are in the queue of the household registration desk. Please hold.
desk_followup|You are in the queue of the work order follow-up desk. Please hold.
desk_foreign|You are in the queue of the foreign language service desk. Please hold.
followup_enter|Please enter your work order number, followed by the hash key.
message_prompt|Please leave a message after the tone. Press hash when you are done.
message_saved|Your message has been saved. We will contact you soon.
closed|Our agents are not available at this time.
queue_position|There are
queue_position_after|callers ahead of you.
queue_wait|Your estimated wait is
queue_minutes|minutes.
callback_offer|To be called back instead of waiting, press 1.
callback_confirm|Thank you. We will call you back in your turn. Goodbye.
survey_prompt|Please rate our service. Satisfied, press 1. Basically satisfied, press 2. Dissatisfied, press 3.
survey_thanks|Thank you for your rating. Goodbye.
followup_intro|Hello, this is the one two three four five hotline. The matter you reported has been handled.
ticket_not_found|We could not find that work order. Please check the number and try again.
ticket_open|Your work order has been received and is being handled.
ticket_dispatched|Your work order has been sent to the department responsible and is being handled.
ticket_replied|The department has replied. Your work order is about to be closed.
ticket_closed|Your work order has been closed.
num_0|zero
num_1|one
num_2|two
num_3|three
num_4|four
num_5|five
num_6|six
num_7|seven
num_8|eight
num_9|nine
num_10|ten
num_11|eleven
num_12|twelve
num_13|thirteen
num_14|fourteen
num_15|fifteen
num_16|sixteen
num_17|seventeen
num_18|eighteen
num_19|nineteen
num_20|twenty
num_30|thirty
num_40|forty
num_50|fifty
num_60|sixty
num_70|seventy
num_80|eighty
num_90|ninety
num_100|hundred
num_1000|thousand
EOF
}

echo "gen-prompts: Mandarin ($ZH_VOICE) into $out/zh"
while IFS='|' read -r name text; do
	say zh "$ZH_VOICE" "$ZH_SPEED" "$name" "$text"
done < <(zh_prompts)

echo "gen-prompts: English ($EN_VOICE) into $out/en"
while IFS='|' read -r name text; do
	say en "$EN_VOICE" "$EN_SPEED" "$name" "$text"
done < <(en_prompts)

echo "gen-prompts: tones into $out/common"
mkdir -p "$out/common"

# beep: 1 kHz for 300 ms, 10 ms ramps so it does not click.
"${SOX[@]}" -n "${FMT[@]}" "$out/common/beep.wav" \
	synth 0.3 sine 1000 fade h 0.01 0.3 0.01 gain -n "$BEEP_GAIN"
echo "  common/beep.wav"

# music: an 8 s loop of four plucked arpeggios (C - Am - F - G, 2 s each, back to C when
# it loops). Each bar fades out over its last 0.4 s, so the loop seam is silent and
# the file can be repeated without a click.
bar() { # bar N NOTE... : one 2 s arpeggio into $tmp/barN.wav
	local n=$1
	shift
	"${SOX[@]}" -n "${FMT[@]}" "$tmp/bar$n.wav" \
		synth 2 pl "$1" pl "$2" pl "$3" pl "$4" pl "$5" \
		delay 0 0.18 0.36 0.54 0.9 remix - \
		fade h 0.005 2 0.4
}
bar 1 C3 G3 C4 E4 G4
bar 2 A2 E3 A3 C4 E4
bar 3 F2 C3 F3 A3 C4
bar 4 G2 D3 G3 B3 D4
"${SOX[@]}" "$tmp/bar1.wav" "$tmp/bar2.wav" "$tmp/bar3.wav" "$tmp/bar4.wav" \
	"${FMT[@]}" "$out/common/music.wav" \
	lowpass 3000 gain -n "$MUSIC_GAIN"
echo "  common/music.wav"

total=$(du -cb "$out"/*/*.wav | tail -1 | cut -f1)
count=$(find "$out" -name '*.wav' | wc -l)
echo "gen-prompts: $count files, $total bytes"
