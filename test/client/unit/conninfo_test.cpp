// Connection strings: which one is used, what is added, and that no password survives
// into anything printable.
#include <gtest/gtest.h>

#include <map>

#include "cronlock/conninfo.hpp"

using namespace cronlock;

namespace {

struct FakeEnv {
	std::map<std::string, std::string> vars;
	Getenv getenv() const
	{
		return [this](const char *name) -> const char * {
			auto it = vars.find(name);
			return it == vars.end() ? nullptr : it->second.c_str();
		};
	}
};

std::string param(const ConnectSettings &s, const std::string &key)
{
	for (const auto &[k, v] : s.params)
		if (k == key)
			return v;
	return "<unset>";
}

} // namespace

TEST(Conninfo, Choice)
{
	FakeEnv env;
	EXPECT_EQ(choose_conninfo(std::nullopt, env.getenv()), "");
	env.vars["DATABASE_URL"] = "postgresql://db/url";
	EXPECT_EQ(choose_conninfo(std::nullopt, env.getenv()), "postgresql://db/url");
	env.vars["CRONLOCK_DB"] = "dbname=cronlock";
	EXPECT_EQ(choose_conninfo(std::nullopt, env.getenv()), "dbname=cronlock");
	EXPECT_EQ(choose_conninfo(std::string("dbname=option"), env.getenv()), "dbname=option");
	env.vars["CRONLOCK_DB"] = "";
	EXPECT_EQ(choose_conninfo(std::nullopt, env.getenv()), "postgresql://db/url");
}

TEST(Conninfo, MaskKeyValue)
{
	EXPECT_EQ(mask_conninfo("host=h password=secret user=u"), "host=h password=**** user=u");
	EXPECT_EQ(mask_conninfo("password = 'se cret\\' x' host=h"), "password = '****' host=h");
	EXPECT_EQ(mask_conninfo("password=secret"), "password=****");
	EXPECT_EQ(mask_conninfo("sslpassword=keypass host=h"), "sslpassword=**** host=h");
	EXPECT_EQ(mask_conninfo("host=h dbname=password"), "host=h dbname=password");
	// libpq refuses this string, and its error names a fragment: still masked.
	EXPECT_EQ(mask_conninfo("host=h password=secret junk"), "host=h password=**** junk");
}

TEST(Conninfo, MaskUri)
{
	EXPECT_EQ(mask_conninfo("postgresql://u:secret@h:5432/db"), "postgresql://u:****@h:5432/db");
	EXPECT_EQ(mask_conninfo("postgres://u:p%40ss@h1:5432,h2:5433/db?sslmode=require"),
			  "postgres://u:****@h1:5432,h2:5433/db?sslmode=require");
	EXPECT_EQ(mask_conninfo("postgresql://u@h/db?password=secret&sslmode=require"),
			  "postgresql://u@h/db?password=****&sslmode=require");
	EXPECT_EQ(mask_conninfo("postgresql://h/db"), "postgresql://h/db");
	EXPECT_EQ(mask_conninfo("postgresql://u@h/db"), "postgresql://u@h/db");
	EXPECT_EQ(mask_conninfo("dbname=postgresql://u:pw@h/db"), "dbname=postgresql://u:****@h/db");
	EXPECT_EQ(mask_conninfo("password='postgresql://u:pw@h'"), "password='****'");
}

TEST(Conninfo, Scrub)
{
	EXPECT_EQ(scrub("missing \"=\" after \"s3cret\" in connection info string", {"s3cret"}),
			  "missing \"=\" after \"****\" in connection info string");
	EXPECT_EQ(scrub("user p@ss and p%40ss", {"p@ss"}), "user **** and ****");
	EXPECT_EQ(scrub("percent form p%40ss decoded p@ss", {"p%40ss"}),
			  "percent form **** decoded ****");
	EXPECT_EQ(scrub("nothing here", {}), "nothing here");
	EXPECT_EQ(scrub("aaaa", {"aa"}), "********");
}

TEST(Conninfo, PrepareSingleHost)
{
	FakeEnv env;
	ConnectTuning t;
	t.connect_timeout = Millis{1500};
	auto p = prepare_conninfo("host=localhost port=5432 password=s3cret", t, env.getenv());
	ASSERT_TRUE(p.settings) << p.error;
	const auto &s = *p.settings;
	EXPECT_EQ(s.hosts, 1);
	EXPECT_EQ(param(s, "target_session_attrs"), "<unset>");
	EXPECT_EQ(param(s, "connect_timeout"), "2"); // libpq's minimum
	EXPECT_EQ(param(s, "keepalives"), "1");
	EXPECT_EQ(param(s, "tcp_user_timeout"), "10000");
	EXPECT_EQ(param(s, "fallback_application_name"), "cronlock");
	EXPECT_EQ(s.display, "host=localhost port=5432 password=****");
	EXPECT_EQ(s.secrets, std::vector<std::string>{"s3cret"});
	EXPECT_EQ(s.connect_timeout, Millis{1500});
}

TEST(Conninfo, PrepareMultiHost)
{
	FakeEnv env;
	auto p = prepare_conninfo("postgresql://u:pw@h1:5432,h2:5433/db", {}, env.getenv());
	ASSERT_TRUE(p.settings) << p.error;
	EXPECT_EQ(p.settings->hosts, 2);
	EXPECT_EQ(param(*p.settings, "target_session_attrs"), "read-write");
	EXPECT_EQ(param(*p.settings, "connect_timeout"), "5");
	EXPECT_EQ(param(*p.settings, "password"), "pw");

	// The user's choice wins.
	p = prepare_conninfo("host=h1,h2 target_session_attrs=any", {}, env.getenv());
	ASSERT_TRUE(p.settings);
	EXPECT_EQ(param(*p.settings, "target_session_attrs"), "any");

	// Hosts from the environment count too; so does PGTARGETSESSIONATTRS.
	env.vars["PGHOST"] = "a,b,c";
	p = prepare_conninfo("", {}, env.getenv());
	ASSERT_TRUE(p.settings);
	EXPECT_EQ(p.settings->hosts, 3);
	EXPECT_EQ(param(*p.settings, "target_session_attrs"), "read-write");
	env.vars["PGTARGETSESSIONATTRS"] = "prefer-standby";
	p = prepare_conninfo("", {}, env.getenv());
	EXPECT_EQ(param(*p.settings, "target_session_attrs"), "<unset>");
	env.vars["PGCONNECT_TIMEOUT"] = "9";
	p = prepare_conninfo("", {}, env.getenv());
	EXPECT_EQ(param(*p.settings, "connect_timeout"), "<unset>");
}

TEST(Conninfo, ParseErrorsAreScrubbed)
{
	FakeEnv env;
	env.vars["PGPASSWORD"] = "envsecret";
	auto p = prepare_conninfo("host=h password=s3cret garbage", {}, env.getenv());
	EXPECT_FALSE(p.settings);
	EXPECT_FALSE(p.error.empty());
	EXPECT_EQ(p.error.find("s3cret"), std::string::npos) << p.error;

	p = prepare_conninfo("password=s3cret nosuchoption=1", {}, env.getenv());
	EXPECT_FALSE(p.settings);
	EXPECT_NE(p.error.find("nosuchoption"), std::string::npos) << p.error;
	EXPECT_EQ(p.error.find("s3cret"), std::string::npos) << p.error;

	p = prepare_conninfo("postgresql://u:s3cret@h:notaport/db", {}, env.getenv());
	if (!p.settings) {
		EXPECT_EQ(p.error.find("s3cret"), std::string::npos) << p.error;
	}

	p = prepare_conninfo("host=h", {}, env.getenv());
	ASSERT_TRUE(p.settings);
	EXPECT_EQ(p.settings->secrets, std::vector<std::string>{"envsecret"});
}
