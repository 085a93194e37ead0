package policy

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/owenrumney/go-sarif/v2/sarif"
)

// Formats lists the output formats Write accepts.
var Formats = []string{"text", "json", "sarif", "junit", "github"}

// Write renders the report in format.
func Write(w io.Writer, format string, rep Report) error {
	switch format {
	case "text":
		return writeText(w, rep)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case "sarif":
		return writeSARIF(w, rep)
	case "junit":
		return writeJUnit(w, rep)
	case "github":
		return writeGitHub(w, rep)
	}
	return fmt.Errorf("unknown output format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

func location(f Finding) string {
	switch {
	case f.Line > 0 && f.Column > 0:
		return fmt.Sprintf("%s:%d:%d", f.File, f.Line, f.Column)
	case f.Line > 0:
		return fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	return f.File
}

func writeText(w io.Writer, rep Report) error {
	for _, f := range rep.Findings {
		if _, err := fmt.Fprintf(w, "%s: %s %s\n", location(f), strings.ToUpper(f.Severity), f.Message); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "%d documents, %d denials, %d warnings, %d exceptions\n",
		rep.Documents, rep.Denials(), rep.Warnings(), len(rep.Exceptions))
	return err
}

// writeSARIF writes SARIF 2.1.0 for code scanning: one rule descriptor per
// rule id, one result per finding at its file, line and column.
func writeSARIF(w io.Writer, rep Report) error {
	report, err := sarif.New(sarif.Version210)
	if err != nil {
		return err
	}
	run := sarif.NewRunWithInformationURI("detour policy", "https://github.com/detour-mesh/detour")
	ids := make([]string, 0, len(rep.Rules))
	for id := range rep.Rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		info := rep.Rules[id]
		run.AddRule(id).WithName(id).WithDescription(info.Title).
			WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(sarifLevel(info.Severity)))
	}
	cwd, _ := os.Getwd()
	for _, f := range rep.Findings {
		region := sarif.NewRegion().WithStartLine(max(f.Line, 1))
		if f.Column > 0 {
			region = region.WithStartColumn(f.Column)
		}
		run.CreateResultForRule(f.Rule).
			WithLevel(sarifLevel(f.Severity)).
			WithMessage(sarif.NewTextMessage(f.Message)).
			AddLocation(sarif.NewLocationWithPhysicalLocation(sarif.NewPhysicalLocation().
				WithArtifactLocation(sarif.NewSimpleArtifactLocation(artifactURI(cwd, f.File))).
				WithRegion(region)))
	}
	// Excepted findings are results too, suppressed with the reason, so code
	// scanning shows what was accepted and why.
	described := map[string]bool{}
	for _, x := range rep.Exceptions {
		if _, ok := rep.Rules[x.Rule]; !ok && !described[x.Rule] {
			run.AddRule(x.Rule).WithName(x.Rule).
				WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(sarifLevel(x.Severity)))
			described[x.Rule] = true
		}
		region := sarif.NewRegion().WithStartLine(max(x.Line, 1))
		if x.Column > 0 {
			region = region.WithStartColumn(x.Column)
		}
		kind := "external" // --except or a policy's exception rule
		if x.By == "annotation" {
			kind = "inSource"
		}
		run.CreateResultForRule(x.Rule).
			WithLevel(sarifLevel(x.Severity)).
			WithMessage(sarif.NewTextMessage(x.Message)).
			WithSuppression([]*sarif.Suppression{sarif.NewSuppression(kind).WithStatus("accepted").WithJustifcation(x.Reason)}).
			AddLocation(sarif.NewLocationWithPhysicalLocation(sarif.NewPhysicalLocation().
				WithArtifactLocation(sarif.NewSimpleArtifactLocation(artifactURI(cwd, x.File))).
				WithRegion(region)))
	}
	report.AddRun(run)
	return report.PrettyWrite(w)
}

// artifactURI makes a path relative to the working directory (the
// repository root in CI), as code scanning maps results to repository files.
func artifactURI(cwd, file string) string {
	if filepath.IsAbs(file) && cwd != "" {
		if rel, err := filepath.Rel(cwd, file); err == nil && filepath.IsLocal(rel) {
			file = rel
		}
	}
	return filepath.ToSlash(file)
}

func sarifLevel(severity string) string {
	if severity == Warn {
		return "warning"
	}
	return "error"
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// writeJUnit writes one test case per finding (denials fail, warnings pass
// with their message as output), so CI test reports list each by rule.
func writeJUnit(w io.Writer, rep Report) error {
	suite := junitSuite{Name: "detour policy", Cases: []junitCase{}}
	for _, f := range rep.Findings {
		c := junitCase{Name: fmt.Sprintf("%s %s", location(f), f.Rule), ClassName: f.File}
		if f.Severity == Deny {
			c.Failure = &junitFailure{Message: f.Message, Type: f.Rule, Text: f.Message}
			suite.Failures++
		} else {
			c.SystemOut = "warning: " + f.Message
		}
		suite.Cases = append(suite.Cases, c)
	}
	if len(suite.Cases) == 0 {
		suite.Cases = append(suite.Cases, junitCase{Name: fmt.Sprintf("%d documents pass every policy", rep.Documents), ClassName: "detour policy"})
	}
	suite.Tests = len(suite.Cases)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{suite}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// writeGitHub writes workflow commands that GitHub Actions turns into
// annotations on the pull request's files.
func writeGitHub(w io.Writer, rep Report) error {
	for _, f := range rep.Findings {
		cmd := "error"
		if f.Severity == Warn {
			cmd = "warning"
		}
		props := []string{"file=" + ghProperty(f.File)}
		if f.Line > 0 {
			props = append(props, fmt.Sprintf("line=%d", f.Line))
		}
		if f.Column > 0 {
			props = append(props, fmt.Sprintf("col=%d", f.Column))
		}
		props = append(props, "title="+ghProperty("detour policy: "+f.Rule))
		if _, err := fmt.Fprintf(w, "::%s %s::%s\n", cmd, strings.Join(props, ","), ghData(f.Message)); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "%d documents, %d denials, %d warnings, %d exceptions\n",
		rep.Documents, rep.Denials(), rep.Warnings(), len(rep.Exceptions))
	return err
}

// ghData and ghProperty escape workflow-command values as the Actions
// runner expects.
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
