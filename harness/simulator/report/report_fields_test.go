package report

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reportFields names, for every field of the report a user reads, the
// test that counts it by hand, or why none is needed ("copied: ..."). A
// new field fails TestEveryReportFieldIsCounted until it has one. The test
// must mention the field, or, after a colon, the function that computes it
// when the test counts that function's output.
var reportFields = map[string]string{
	"RunReport.Name":                   "copied: the run's name",
	"RunReport.Config":                 "copied: the configuration's description",
	"RunReport.Requests":               "TestCountedErrors",
	"RunReport.UserVisibleErrors":      "TestCountedErrors",
	"RunReport.IdempotentErrors":       "TestCountedErrors",
	"RunReport.ErrorRate":              "TestCountedErrors",
	"RunReport.Errors":                 "TestCountedErrors",
	"RunReport.ResponseFlags":          "TestCountedErrors",
	"RunReport.Attempts":               "TestCountedRetriesAndAmplification",
	"RunReport.Retries":                "TestCountedRetriesAndAmplification",
	"RunReport.RetryAmplification":     "TestCountedRetriesAndAmplification",
	"RunReport.PeakRetryAmplification": "TestCountedRetriesAndAmplification",
	"RunReport.LatencyMs":              "TestCountedLatency",
	"RunReport.CrossRegionShare":       "TestCountedFailBackAndCrossRegion",
	"RunReport.RegionShare":            "TestCountedRegionShareAndResidency",
	"RunReport.Phases":                 "TestPhasesAndFailBackCost",
	"RunReport.Faults":                 "TestCountedFailOver",
	"RunReport.Seconds":                "TestCountedRetriesAndAmplification",
	"RunReport.Events":                 "TestCountedTransitionsAndFilterEvents",
	"RunReport.Transitions":            "TestCountedTransitionsAndFilterEvents",
	"RunReport.Failbacks":              "TestCountedFailbacks:Failbacks",
	"RunReport.Warnings":               "copied: the run's warnings",
	"RunReport.Expectations":           "TestCountedRegionShareAndResidency:CheckAll",
	"RunReport.Passed":                 "TestBuildRun",
	"RunReport.Clusters":               "copied: the topology's clusters",
	"RunReport.Fleet":                  "TestCountedFleet:Fleet",
	"FaultResult.Name":                 "copied: the fault's name",
	"FaultResult.DetectS":              "TestCountedDetectionWindow",
	"FaultResult.FailOverS":            "TestCountedFailOver",
	"FaultResult.FailBackS":            "TestCountedFailBackAndCrossRegion",
	"FaultResult.Errors":               "TestCountedFailOver",
	"FaultResult.DetectedBy":           "TestBuildRun",
	"FaultResult.FailBackCost":         "TestPhasesAndFailBackCost",
	"FleetReport.Sources":              "TestCountedFleet",
	"FleetReport.Total":                "TestCountedFleet",
	"FleetReport.Faults":               "TestCountedFleet",
	"FailbackReport.Service":           "TestCountedFailbacks",
	"FailbackReport.Target":            "TestCountedFailbacks",
	"FailbackReport.StartS":            "TestCountedFailbacks",
	"FailbackReport.HoldDownEndS":      "TestCountedFailbacks",
	"FailbackReport.Steps":             "TestCountedFailbacks",
	"FailbackReport.EndS":              "TestCountedFailbacks",
}

// TestEveryReportFieldIsCounted: every field of RunReport, FaultResult,
// FleetReport and FailbackReport is in reportFields, and the test named
// for it exists in this package and mentions the field (as a selector or
// a composite literal key), so the list cannot point at a test that does
// not look at the field.
func TestEveryReportFieldIsCounted(t *testing.T) {
	bodies := testBodies(t)
	seen := map[string]bool{}
	for _, typ := range []reflect.Type{reflect.TypeFor[RunReport](), reflect.TypeFor[FaultResult](), reflect.TypeFor[FleetReport](), reflect.TypeFor[FailbackReport]()} {
		for f := range typ.Fields() {
			key := typ.Name() + "." + f.Name
			seen[key] = true
			test, ok := reportFields[key]
			if !assert.True(t, ok, "%s has no hand-counted test in reportFields", key) || strings.HasPrefix(test, "copied: ") {
				continue
			}
			test, ident, ok := strings.Cut(test, ":")
			if !ok {
				ident = f.Name
			}
			body, ok := bodies[test]
			if !assert.True(t, ok, "%s: no test %s in this package", key, test) {
				continue
			}
			assert.True(t, mentions(body, ident), "%s: %s does not mention %s", key, test, ident)
		}
	}
	for key := range reportFields {
		assert.True(t, seen[key], "reportFields lists %s, which is no longer a field", key)
	}
}

// testBodies maps each Test function of this package's test files to its
// body.
func testBodies(t *testing.T) map[string]*ast.BlockStmt {
	t.Helper()
	files, err := filepath.Glob("*_test.go")
	require.NoError(t, err)
	out := map[string]*ast.BlockStmt{}
	fset := token.NewFileSet()
	for _, name := range files {
		src, err := os.ReadFile(name)
		require.NoError(t, err)
		f, err := parser.ParseFile(fset, name, src, 0)
		require.NoError(t, err)
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && strings.HasPrefix(fn.Name.Name, "Test") {
				out[fn.Name.Name] = fn.Body
			}
		}
	}
	return out
}

// mentions reports whether body selects field (x.field), sets it in a
// composite literal (field: ...) or calls it (field(...)).
func mentions(body *ast.BlockStmt, field string) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			found = found || n.Sel.Name == field
		case *ast.CallExpr:
			if id, ok := n.Fun.(*ast.Ident); ok && id.Name == field {
				found = true
			}
		case *ast.KeyValueExpr:
			if id, ok := n.Key.(*ast.Ident); ok && id.Name == field {
				found = true
			}
		}
		return !found
	})
	return found
}
