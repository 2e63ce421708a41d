#include "linetune/core/error.hpp"
#include "linetune/io/text_table.hpp"
#include "test_support.hpp"

#include <array>
#include <fstream>
#include <string>

namespace linetune::io {
namespace {

using test::error_message;
using test::write_file;

struct NumberCase {
    std::string_view text;
    double expected;
};

}  // namespace

TEST_SUITE("io") {

TEST_CASE("parse_number reads decimal points, commas and thousands separators") {
    const std::array<NumberCase, 20> cases = {{
        {"1.5", 1.5},
        {"1,5", 1.5},
        {"1 000,5", 1000.5},
        {"1'000.5", 1000.5},
        {"1,000.5", 1000.5},
        {"1.000,5", 1000.5},
        {"19,999.9", 19999.9},
        {"24 000,0", 24000.0},
        {"1,000,000", 1000000.0},
        {"1 000 000,25", 1000000.25},
        {"1\xC2\xA0" "000,5", 1000.5},
        {"1\xE2\x80\xAF" "000,5", 1000.5},
        {"-1.654331E-6", -1.654331e-6},
        {"1.0416666666666666E-5", 1.0416666666666666e-5},
        {"-1,654331E-6", -1.654331e-6},
        {"+2.5", 2.5},
        {"2,5e+3", 2500.0},
        {"  20.0\t", 20.0},
        {".5", 0.5},
        {"00.0000", 0.0},
    }};
    for (const auto& c : cases) {
        CAPTURE(c.text);
        const auto value = parse_number(c.text);
        REQUIRE(value.has_value());
        CHECK(*value == doctest::Approx(c.expected).epsilon(1e-15));
    }
}

TEST_CASE("parse_number rejects text that is not one finite number") {
    const std::array<std::string_view, 17> cases = {
        "", "   ", "abc", "1.2.3", "1,2,3", "1 5", "12 34,5", "nan", "inf", "-inf", "1e", "1e400", "--1", "12abc",
        "*", "1.5dB", "0x10"};
    for (const auto text : cases) {
        CAPTURE(text);
        CHECK_FALSE(parse_number(text).has_value());
    }
}

TEST_CASE("read_text_lines strips CRLF, byte-order mark and keeps line numbers") {
    const auto dir = test::scratch_dir("text_table_lines");
    const auto path = write_file(dir / "crlf.txt", "\xEF\xBB\xBF" "first\r\n\r\nthird \r\nlast");
    const auto lines = read_text_lines(path);
    REQUIRE(lines.size() == 4);
    CHECK(lines[0].text == "first");
    CHECK(lines[0].number == 1);
    CHECK(lines[1].text.empty());
    CHECK(lines[2].text == "third ");
    CHECK(lines[3].text == "last");
    CHECK(lines[3].number == 4);
}

TEST_CASE("read_text_lines splits lone CR line breaks") {
    const auto dir = test::scratch_dir("text_table_cr");
    const auto lines = read_text_lines(write_file(dir / "mac.txt", "a\rb\r\rc"));
    REQUIRE(lines.size() == 4);
    CHECK(lines[0].text == "a");
    CHECK(lines[1].text == "b");
    CHECK(lines[2].text.empty());
    CHECK(lines[3].text == "c");
}

TEST_CASE("read_text_lines keeps consecutive blank LF lines") {
    const auto dir = test::scratch_dir("text_table_blank_lines");
    const auto lines = read_text_lines(write_file(dir / "blank.txt", "a\n\n\nb\n"));
    REQUIRE(lines.size() == 4);
    CHECK(lines[1].text.empty());
    CHECK(lines[2].text.empty());
    CHECK(lines[3].text == "b");
    CHECK(lines[3].number == 4);
}

TEST_CASE("read_text_lines rejects binary files") {
    const auto dir = test::scratch_dir("text_table_binary");
    const auto path = write_file(dir / "x.wav", std::string("RIFF\n\x10\0\0\0WAVE", 14));
    CHECK(error_message([&] { read_text_lines(path); }) ==
          "file '" + path.string() +
              "', line 2: NUL byte at byte offset 6, so this is a binary file, not a text export; export the "
              "data as text");
}

TEST_CASE("read_text_lines rejects UTF-16 text") {
    const auto dir = test::scratch_dir("text_table_utf16");
    const auto path = write_file(dir / "u16.txt", std::string("\xFF\xFE" "1\0" "0\0", 6));
    CHECK(error_message([&] { read_text_lines(path); }) ==
          "file '" + path.string() + "': is UTF-16 text; save it as UTF-8 or plain ASCII text and try again");
}

TEST_CASE("read_text_lines names a missing file") {
    const auto path = test::scratch_dir("text_table_missing") / "absent.txt";
    const std::string message = error_message([&] { read_text_lines(path); });
    CHECK(message.starts_with("file '" + path.string() + "': cannot be read ("));
    CHECK(message.ends_with("); check the path and the read permission"));
}

TEST_CASE("read_first_text_lines stops at the line count") {
    const auto dir = test::scratch_dir("text_table_first");
    const auto lines = read_first_text_lines(write_file(dir / "many.txt", "1\n2\n3\n4\n5\n"), 3);
    REQUIRE(lines.size() == 3);
    CHECK(lines[2].text == "3");
}

TEST_CASE("split_fields keeps empty tab fields and strips quotes") {
    const auto tab = split_fields("\tLeft\t\t", FieldDelimiter::tab);
    REQUIRE(tab.size() == 4);
    CHECK(tab[0].empty());
    CHECK(tab[1] == "Left");
    CHECK(tab[3].empty());

    const auto spaces = split_fields("  20.0000 -0.07   31.9 ", FieldDelimiter::whitespace);
    REQUIRE(spaces.size() == 3);
    CHECK(spaces[2] == "31.9");

    const auto quoted = split_fields("\"20\", \"0.5\"", FieldDelimiter::comma);
    REQUIRE(quoted.size() == 2);
    CHECK(quoted[0] == "20");
    CHECK(quoted[1] == "0.5");
}

TEST_CASE("whitespace rows rejoin space-grouped numbers") {
    const auto fields = split_data_row("24 000,0 70,25 -1,5", FieldDelimiter::whitespace, 3);
    REQUIRE(fields.size() == 3);
    CHECK(fields[0] == "24 000,0");
    CHECK(*parse_number(fields[0]) == 24000.0);
    CHECK(fields[1] == "70,25");

    const auto unchanged = split_data_row("20 000 5", FieldDelimiter::whitespace, 3);
    CHECK(unchanged.size() == 3);
}

TEST_CASE("typical field count is the most common count") {
    const std::array<std::string_view, 4> lines = {"1\t2\t3", "2\t3\t4\t", "3\t4", "4\t5\t6"};
    CHECK(typical_field_count(lines, FieldDelimiter::tab) == 3);
}

TEST_CASE("delimiter detection copes with decimal commas") {
    const std::array<std::string_view, 2> tab = {"20,5\t1,25", "21\t1,5"};
    CHECK(detect_field_delimiter(tab) == FieldDelimiter::tab);

    const std::array<std::string_view, 2> semicolon = {"20,5;1,25;-10,5", "21;1,5;-11"};
    CHECK(detect_field_delimiter(semicolon) == FieldDelimiter::semicolon);

    const std::array<std::string_view, 2> comma_space = {"20.141602, 91.525, 163.3452", "20.288, 91.6, 160.1"};
    CHECK(detect_field_delimiter(comma_space) == FieldDelimiter::comma);

    const std::array<std::string_view, 2> comma = {"1000,-3.5", "2000,-4"};
    CHECK(detect_field_delimiter(comma) == FieldDelimiter::comma);

    const std::array<std::string_view, 2> space_decimal_comma = {"20,141602 91,525 163,3452", "20,288 91,6 160,1"};
    CHECK(detect_field_delimiter(space_decimal_comma) == FieldDelimiter::whitespace);
}

TEST_CASE("delimiter detection falls back to the separator in use") {
    const std::array<std::string_view, 1> words = {"frequency;level"};
    CHECK(detect_field_delimiter(words) == FieldDelimiter::semicolon);
}

TEST_CASE("title lines and data rows are told apart") {
    CHECK(looks_like_data_row("20.0\t-1.5"));
    CHECK(looks_like_data_row("20,5 1,25"));
    CHECK(looks_like_data_row("100\t*\t*\t0.2"));
    CHECK_FALSE(looks_like_data_row("Freq(Hz), SPL(dB)"));
    CHECK_FALSE(looks_like_data_row("abc 1.2"));
    CHECK(has_no_number("Freq(Hz), SPL(dB), Phase(degrees)"));
    CHECK(has_no_number("\"Frequency\",\"dB\""));
    CHECK_FALSE(has_no_number("Serial 1234"));
}

TEST_CASE("format_number writes the shortest exact text") {
    CHECK(format_number(900.0) == "900");
    CHECK(format_number(20.141602) == "20.141602");
    CHECK(format_number(-0.5) == "-0.5");
}

TEST_CASE("identical duplicate rows are dropped with a warning") {
    std::vector<FrequencyRow> rows = {{13, 1000.0, {-3.0}}, {14, 1000.0, {-3.0}}, {15, 2000.0, {-4.0}}};
    const std::array<std::string_view, 1> names = {"magnitude (dB)"};
    const auto warnings = enforce_ascending_frequency(rows, "r.csv", names);
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0] == "file 'r.csv', line 14: duplicate of line 13 (frequency 1000 Hz) dropped");
    REQUIRE(rows.size() == 2);
    CHECK(rows[1].line_number == 15);
}

TEST_CASE("conflicting duplicate rows are rejected") {
    std::vector<FrequencyRow> rows = {{13, 1000.0, {-3.0, 10.0}}, {14, 1000.0, {-3.0, 12.5}}};
    const std::array<std::string_view, 2> names = {"magnitude (dB)", "phase (degrees)"};
    CHECK(error_message([&] { enforce_ascending_frequency(rows, "r.csv", names); }) ==
          "file 'r.csv', line 14: frequency 1000 Hz repeats line 13 with a different phase (degrees) (12.5 here, "
          "10 there); delete one of the two rows");
}

TEST_CASE("out-of-order rows are rejected") {
    std::vector<FrequencyRow> rows = {{13, 1000.0, {-3.0}}, {14, 900.0, {-3.0}}};
    const std::array<std::string_view, 1> names = {"magnitude (dB)"};
    CHECK(error_message([&] { enforce_ascending_frequency(rows, "r.csv", names); }) ==
          "file 'r.csv', line 14: frequency 900 Hz is lower than 1000 Hz on line 13; rows must be in ascending "
          "frequency");
}

}  // TEST_SUITE

}  // namespace linetune::io
