package benchpair

import (
	"slices"
	"testing"
	"time"
)

// Op is one side of a pair: Name labels its metric, Run performs iteration i.
type Op struct {
	Name string
	Run  func(i int)
}

// Run alternates ref and op for b.N iterations each and reports the median time of each
// ("<name>-ns/op") and op's median over ref's ("<op>/<ref>").
func Run(b *testing.B, ref, op Op) {
	b.Helper()
	var refTimes, opTimes []time.Duration
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		ref.Run(i)
		t1 := time.Now()
		op.Run(i)
		t2 := time.Now()
		refTimes = append(refTimes, t1.Sub(t0))
		opTimes = append(opTimes, t2.Sub(t1))
	}
	r, o := median(refTimes), median(opTimes)
	b.ReportMetric(float64(r.Nanoseconds()), ref.Name+"-ns/op")
	b.ReportMetric(float64(o.Nanoseconds()), op.Name+"-ns/op")
	b.ReportMetric(float64(o)/float64(r), op.Name+"/"+ref.Name)
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)/2]
}
