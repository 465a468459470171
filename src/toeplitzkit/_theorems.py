"""The theorem map: every numbered result of the thesis the library relies on.

One :class:`Result` per row: the result, the functions implementing it, the tests
checking it (pytest node ids relative to the project root), how they check it and
what they found.  ``docs/theorems.md`` is generated from this table
(``python -m toeplitzkit._theorems > docs/theorems.md``); ``tests/test_theorem_map.py``
fails when the page is stale, when a function does not exist or when a test is not
collected.  ``toeplitzkit verify`` runs the tests and prints the table with a
pass/fail column.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

__all__ = ["Result", "THEOREMS", "ERRATA", "render_markdown", "resolve"]

HOLDS = "holds"
CORRECTED = "holds with corrected statement"
ERRATUM = "erratum"
CITED = "cited, not checked"


@dataclass(frozen=True)
class Result:
    """One row of the theorem map."""

    key: str  # "Thm 2.1", "Eq 2.9-2.19", ...
    statement: str  # one line
    functions: tuple  # dotted names (module.attr[.attr])
    tests: tuple  # pytest node ids, relative to the project root
    how: str  # property-based / symbolic / Monte Carlo / exact construction / dense comparison
    finding: str  # HOLDS / CORRECTED / ERRATUM / CITED
    note: str = ""


_T = "toeplitzkit.toeplitz."
_D = "toeplitzkit.decompose."
_B = "toeplitzkit.bounds."
_S = "tests/symbolic/"

THEOREMS = (
    Result("Def 2.1, Eq 2.1", "circulant matrix C[j, k] = c[(j - k) mod n]", (_T + "Circulant",),
           ("tests/toeplitz/test_circulant.py::test_circulant_matches_scipy",),
           "dense comparison (scipy.linalg.circulant)", HOLDS),
    Result("Thm 2.1", "circ(c) = U* diag(U c) U / n: eigenvalues are the DFT of c", (_T + "Circulant.eigvals",),
           (_S + "test_circulant_symbolic.py::test_thm_2_1_circulant_diagonalization",
            "tests/toeplitz/test_circulant.py::test_circulant_eigenvalues_are_the_dft_of_c"),
           "symbolic (n = 2, 3, 4) and dense comparison", HOLDS),
    Result("Eq 2.9-2.19", "circulants are closed under sum and product: circ(x) circ(y) = circ(x (*) y)",
           (_T + "Circulant.__matmul__", _T + "Circulant.__add__"),
           (_S + "test_circulant_symbolic.py::test_eq_2_9_to_2_19_circulant_closure",
            "tests/toeplitz/test_circulant.py::test_circulant_closure"),
           "symbolic (n = 2, 3, 4) and property-based", HOLDS),
    Result("Def 2.2, Eq 2.20-2.21", "f-circulant Z_f(x) and the f-unit-circulant Z_f",
           (_T + "FCirculant", _T + "f_unit_circulant"),
           ("tests/toeplitz/test_circulant.py::test_fcirculant_matches_definition",
            "tests/toeplitz/test_circulant.py::test_fcirculant_eigvals"),
           "dense comparison", HOLDS),
    Result("Eq 2.22-2.23", "Toeplitz index convention T[j, k] = a_{j-k}", (_T + "Toeplitz",),
           (_S + "test_numeric_theorems.py::test_eq_2_22_toeplitz_index_convention",
            "tests/toeplitz/test_toeplitz.py::test_toeplitz_matches_scipy"),
           "exact construction (symbol e^{iw})", ERRATUM,
           "Eq 2.23 prints a_{k-j}; Eq 2.22 and 2.26 use a_{j-k}, as the library (SciPy's first column c). "
           "The display of Eq 2.22 also shows a2 for a_-2 (first row) and a1 for a_-1 (second row)."),
    Result("Eq 2.24-2.26", "T_n(f) from the Fourier coefficients of a symbol", (_T + "Toeplitz.from_symbol",),
           ("tests/toeplitz/test_toeplitz.py::test_from_symbol_callable_matches_exact_coefficients",
            "tests/toeplitz/test_toeplitz.py::test_symbol_roundtrip"),
           "exact coefficients and quadrature", HOLDS),
    Result("Thm 2.2, Eq 2.27-2.29", "block circulant matrices are block-diagonalized by U (x) I",
           (_T + "BlockCirculant", _T + "BlockCirculant.block_spectrum"),
           ("tests/toeplitz/test_block.py::test_theorem_2_2_block_diagonalization",
            "tests/toeplitz/test_block.py::test_eq_2_27_text_convention_breaks_theorem_2_2"),
           "dense comparison", CORRECTED,
           "Eq 2.27's text writes block (j, k) as A((k - j) mod n) while the displayed matrix has "
           "A((j - k) mod n); Thm 2.2 with Psi of Eq 2.29 holds for the displayed matrix only (with the "
           "text's indexing the diagonal blocks come out in the order Psi(0), Psi(n-1), ..., Psi(1)). "
           "The statement's sizes are also off: for m x m blocks the matrix is nm x nm and the transform "
           "U_n (x) I_m (U_n (x) I_p on the left and U_n (x) I_q on the right for p x q blocks)."),
    Result("Eq 2.30-2.31", "doubly-block circulant matrices are diagonalized by U (x) U",
           (_T + "DoublyBlockCirculant", _T + "DoublyBlockCirculant.eigvals"),
           (_S + "test_circulant_symbolic.py::test_eq_2_31_doubly_block_circulant_diagonalization",
            _S + "test_circulant_symbolic.py::test_eq_2_31_library_eigenvalues_match_symbolic",
            "tests/toeplitz/test_doubly_block.py::test_dbc_eigendecomposition_eq_2_31"),
           "symbolic (n = 2, 3) and dense", HOLDS),
    Result("Eq 2.32-2.33, Eq 5.5", "block and doubly-block Toeplitz matrices generated by a symbol",
           (_T + "BlockToeplitz", _T + "DoublyBlockToeplitz", _T + "TrigPolynomial"),
           ("tests/toeplitz/test_block.py::test_block_toeplitz_symbol_is_eq_2_33",
            "tests/toeplitz/test_doubly_block.py::test_dbt_is_D_of_f_eq_5_5",
            "tests/toeplitz/test_symbol.py::test_from_kernel_is_eq_5_50"),
           "dense comparison", HOLDS),
    Result("Eq 2.27-2.33", "a 2-D convolution is a doubly-block Toeplitz matrix", (_T + "Conv2dOperator",),
           ("tests/toeplitz/test_conv.py::test_conv2d_matches_torch",
            "tests/toeplitz/test_conv.py::test_conv2d_grid_covers_every_option",
            "tests/toeplitz/test_conv.py::test_thesis_section_2_1_3_example_is_a_left_right_flipped_correlation"),
           "dense comparison (torch.nn.functional.conv2d)", CORRECTED,
           "the doubly-block Toeplitz matrix printed in section 2.1.3 for a 3x3 kernel is the 'same' "
           "cross-correlation with the kernel flipped left-right, not with K; singular values agree."),
    Result("Def 2.3, Table 2.1", "Sylvester / Stein displacement and the rank of each structure",
           (_D + "sylvester", _D + "stein", _D + "displacement_rank", _D + "OPERATOR_PAIRS"),
           ("tests/decompose/test_displacement.py::test_sylvester_and_stein_definitions",
            "tests/decompose/test_displacement.py::test_displacement_rank_of_each_structure",
            "tests/decompose/test_displacement.py::test_table_pairs_are_the_thesis_operators"),
           "property-based, dense", CORRECTED,
           "Table 2.1 does not say which displacement each row uses: all seven pairs are Sylvester "
           "(A M - M B). 'Z>0' stands for the transpose of Z_0, and the Vandermonde row needs "
           "V[i, j] = v_i^j with B = Z_0 (the down shift)."),
    Result("Thm 2.3", "Krylov decomposition of a matrix from its displacement generators",
           (_D + "krylov", _D + "krylov_reconstruct"),
           ("tests/decompose/test_toeplitz_like.py::test_krylov_reconstruct_thm_2_3",
            "tests/decompose/test_toeplitz_like.py::test_krylov_reconstruct_errors"),
           "dense reconstruction", HOLDS),
    Result("Thm 2.4", "Toeplitz-like M = 1/2 sum_j Z_1(g_j) Z_-1(J h_j)", (_D + "ToeplitzLike",),
           (_S + "test_toeplitz_like_symbolic.py::test_thm_2_4_toeplitz_displacement_rank_two",
            _S + "test_toeplitz_like_symbolic.py::test_thm_2_4_toeplitz_like_reconstruction",
            _S + "test_toeplitz_like_symbolic.py::test_thm_2_4_general_matrix_reconstruction",
            _S + "test_toeplitz_like_symbolic.py::test_thm_2_4_library_matches_symbolic",
            "tests/decompose/test_toeplitz_like.py::test_thm_2_4_formula_matches_dense"),
           "symbolic (n = 3, 4) and dense", HOLDS),
    Result("Thm 3.2", "LDR expressivity: circulant/skew rank 1, Toeplitz and inverse rank 2, closure",
           (_D + "ToeplitzLike.from_dense", _D + "generators"),
           ("tests/decompose/test_toeplitz_like.py::test_thm_3_2_circulant_and_skew_circulant_rank_1",
            "tests/decompose/test_toeplitz_like.py::test_thm_3_2_toeplitz_and_inverse_rank_2",
            "tests/decompose/test_toeplitz_like.py::test_thm_3_2_products_and_combinations",
            "tests/decompose/test_toeplitz_like.py::test_thm_3_2_any_matrix_rank_n"),
           "dense, numerical rank", HOLDS),
    Result("Prop 3.1", "margin certificate: no perturbation below margin / (sqrt 2 Lip) flips the class",
           (_B + "margin_certificate",),
           ("tests/bounds/test_network.py::test_margin_certificate_is_sound_for_linear_models",),
           "exact construction (linear models, worst-case perturbation)", HOLDS),
    Result("Prop 3.2", "Lip(network) <= product of layer Lipschitz constants", (_B + "product_bound",),
           ("tests/bounds/test_network.py::test_product_bound_is_above_the_network_constant",),
           "property-based, one-sided", HOLDS),
    Result("Prop 3.2 on a graph", "chains multiply, branch sums add, concatenations take the root of the sum "
           "of squares, linear regions are one operator: the composed value bounds Lip(network)",
           ("toeplitzkit.adapters.torch.lipschitz_certificate", "toeplitzkit.adapters.torch.jacobian_norm_lower_bound"),
           ("tests/adapters/test_certificate.py::test_linear_models_are_certified_within_one_percent",
            "tests/adapters/test_certificate.py::test_certificate_is_never_below_the_jacobian_norm",
            "tests/adapters/test_certificate.py::test_real_networks_are_certified_above_their_empirical_lower_bound",
            "tests/adapters/test_certificate.py::test_maxpool_overlap_factor_is_attained"),
           "one-sided against the Jacobian's norm (dense or power iteration) at many inputs", HOLDS,
           "DESIGN section 6b; BatchNorm folded exactly, max pools by their window overlap"),
    Result("Prop 3.3", "smaller layer constants do not imply a smaller network constant",
           (_B + "product_bound", "toeplitzkit.bounds.network.pattern_bound"),
           (_S + "test_prop_3_3_symbolic.py::test_prop_3_3_layer_norms",
            _S + "test_prop_3_3_symbolic.py::test_prop_3_3_network_constants",
            _S + "test_prop_3_3_symbolic.py::test_prop_3_3_attained_by_finite_differences",
            _S + "test_prop_3_3_symbolic.py::test_prop_3_3_library_pattern_bound",
            "tests/bounds/test_network.py::test_prop_3_3_counterexample_values"),
           "symbolic (exact norms)", CORRECTED,
           "||A(2)||_2 is printed as sqrt 2; it is (1 + sqrt 5)/2. Lip(N1) = (1 + sqrt 5)/2 and "
           "Lip(N2) = sqrt 2 hold, so the counterexample stands."),
    Result("Alg 3.1", "power method for the largest singular value", (_B + "power_method",),
           ("tests/bounds/test_baselines.py::test_power_method_is_below_and_converges",),
           "one-sided against dense SVD", HOLDS),
    Result("Alg 3.2", "conv power method (Farnia et al.)", (_B + "conv_power_method",),
           ("tests/bounds/test_baselines.py::test_conv_power_method_is_below_and_converges",),
           "one-sided against dense SVD", HOLDS),
    Result("Eq 2.56", "projected gradient descent attack (PGD)", ("toeplitzkit.adapters.torch.pgd_attack",),
           ("tests/adapters/test_robust.py::test_pgd_finds_the_analytic_worst_case_of_a_linear_two_class_model",
            "tests/adapters/test_robust.py::test_pgd_stays_in_the_ball_and_in_range_and_restarts_help"),
           "exact construction (linear model, analytic worst case)", HOLDS),
    Result("Eq 3.6-3.7", "diagonal-circulant (ACDC) layers: products of diagonal and circulant factors",
           (_D + "DiagonalCirculant", "toeplitzkit.adapters.torch.DiagonalCirculantLinear"),
           ("tests/decompose/test_diagonal_circulant.py::test_matches_dense",
            "tests/adapters/test_layers.py::test_forward_matches_dense"),
           "dense comparison", HOLDS),
    Result("Thm 3.6-3.7", "singular values of a circular convolution (Sedghi et al.)",
           (_B + "sedghi_singular_values",),
           ("tests/bounds/test_baselines.py::test_sedghi_equals_dense_svd_of_circular_conv",
            "tests/bounds/test_baselines.py::test_sedghi_matches_the_circular_conv_operator"),
           "dense SVD", HOLDS),
    Result("Thm 3.8", "Singla & Feizi bound from four reshaped kernel norms", (_B + "singla_feizi_bound",),
           ("tests/bounds/test_baselines.py::test_singla_feizi_and_gram_are_upper_bounds",
            "tests/bounds/test_baselines.py::test_singla_feizi_exact_for_1x1_and_four_reshapes"),
           "one-sided against dense SVD", CORRECTED,
           "the printed factor sqrt(k2 k2) must read sqrt(k1 k2), and the last block of S is mis-indexed. "
           "Two further reshapes (cout x cin kh kw and cout kh kw x cin) are valid bounds too; the "
           "function returns the minimum of all four."),
    Result("Thm 4.1", "every matrix is a limit of products of 2n - 1 diagonal and circulant factors",
           (_D + "dc_factorize",),
           ("tests/decompose/test_dc_factorize.py::test_full_rank_small_and_zero_matrix",),
           "exact construction (rank n through Thm 4.2)", HOLDS,
           "checked through the constructive rank-n case of Thm 4.2 (4n + 1 factors), not the 2n - 1 count."),
    Result("Thm 4.2", "a rank-k matrix is a product of 4k + 1 diagonal and circulant factors",
           (_D + "dc_factorize", _D + "DiagonalCirculant"),
           ("tests/decompose/test_dc_factorize.py::test_200_random_trials_all_reconstruct",
            "tests/decompose/test_dc_factorize.py::test_rank_not_dividing_n_uses_next_divisor",
            _S + "test_numeric_theorems.py::test_thm_4_2_factor_count_and_first_last_kinds"),
           "exact construction, 200 random trials", CORRECTED,
           "the 4k + 1 factors of the proof start and end with a diagonal matrix, not a circulant; "
           "when k does not divide n the next divisor k' >= k is used (4k' + 1 factors)."),
    Result("Def 4.1, Lemma 4.1", "a product of matrices with biases shifted so that every ReLU is the identity "
           "on a bounded set", (_D + "dense_to_dcnn", _D + "complex_relu"),
           ("tests/decompose/test_dcnn.py::test_dense_to_dcnn_agrees_on_the_input_set",
            "tests/decompose/test_dcnn.py::test_intermediate_relus_act_as_identity",
            "tests/decompose/test_dcnn.py::test_lemma_4_1_printed_bias_recursion_is_wrong"),
           "exact construction, dense forward", CORRECTED,
           "the printed bias recursion c_(j+1) = 1 Xi - W_(j+1) c_j is wrong from j = 2; the recursion that "
           "keeps every ReLU the identity is c_(j+1) = 1 Xi - W_(j+1) 1 Xi."),
    Result("Lemma 4.2, Thm 4.4", "a dense ReLU network of total rank K is a DC network on a bounded set",
           (_D + "dense_to_dcnn",),
           ("tests/decompose/test_dcnn.py::test_dense_to_dcnn_agrees_on_the_input_set",
            "tests/decompose/test_dcnn.py::test_dc_network_forward_matches_dense"),
           "exact construction (Thm 4.2 per layer, Lemma 4.1 biases)", HOLDS),
    Result("Cor 4.1", "bounded-width DC networks are universal approximators", (),
           (), "cited", CITED, "follows from Thm 4.3 (cited) and Lemma 4.1-4.2 (checked above)."),
    Result("Thm 4.3", "universal approximation by bounded-width ReLU networks (Hanin)", (),
           (), "cited", CITED, "an external result the thesis uses for Cor 4.1."),
    Result("Lemma 4.3", "||relu(Wx + b) - relu(W_k y + b)|| <= s_1 ||x - y|| + s_{k+1} ||x||",
           (_D + "lowrank_layer_bound",),
           (_S + "test_numeric_theorems.py::test_lemma_4_3_rank_k_perturbation",
            "tests/decompose/test_dcnn.py::test_lemma_4_3_never_violated"),
           "Monte Carlo (200 complex trials)", HOLDS),
    Result("Prop 4.1", "error of a network with rank-k SVD-truncated layers", (_D + "lowrank_network_bound",),
           (_S + "test_numeric_theorems.py::test_prop_4_1_and_cor_4_2_network_error",
            "tests/decompose/test_dcnn.py::test_prop_4_1_never_violated",
            "tests/decompose/test_dcnn.py::test_prop_4_1_needs_R_to_bound_the_input_too"),
           "Monte Carlo, s_1 = 1 and s_1 != 1", CORRECTED,
           "R must bound the norm of the input as well as of every layer's output (the proof uses "
           "||x^(0)||); with R bounding only the outputs, as printed, the bound fails on a counterexample."),
    Result("Cor 4.2", "the same bound for the DC network of depth (4k + 1) p",
           (_D + "dc_factorize", _D + "dcnn_error_bound"),
           (_S + "test_numeric_theorems.py::test_prop_4_1_and_cor_4_2_network_error",
            "tests/decompose/test_dcnn.py::test_cor_4_2_dcnn_within_bound"),
           "Monte Carlo with the Thm 4.2 factorization", HOLDS),
    Result("Lemma 4.4", "Cov(y_i, y_i') = 0, Var(y_i) = a'^2 + a^2 sum_j u_j^2 for y = D C u + b", (),
           (_S + "test_lemma_4_4_symbolic.py::test_lemma_4_4_covariance",
            _S + "test_lemma_4_4_symbolic.py::test_lemma_4_4_relu_second_moment",
            "tests/adapters/test_layers.py::test_lemma_4_4_off_diagonal_covariance_needs_the_random_signs"),
           "symbolic expectations (n = 2, 3, 4)", CORRECTED,
           "Eq 4.43 prints Var(x_i) inside the sum over j; the index is j. The proof's "
           "y_i = sum_j c_(j-i) u_j d_j + b_i describes C^T D u + b, not D C u + b; both have the stated "
           "covariance (the symbolic test uses y = D C u + b). Eq 4.49 keeps only the j = j' terms: with "
           "ReLU outputs, circ(c) alone gives Cov(y_0, y_1) = 1/pi, not 0; it is the random signs of D "
           "that make the covariance diagonal."),
    Result("Prop 4.2", "DC initialization keeps the output covariance (2/n) ||x||^2 I", (_D + "dc_init",),
           (_S + "test_lemma_4_4_symbolic.py::test_prop_4_2_dc_initialization_monte_carlo",
            "tests/decompose/test_dcnn.py::test_prop_4_2_covariance_monte_carlo",
            "tests/decompose/test_dcnn.py::test_prop_4_2_at_depth_40_layer_by_layer"),
           "Monte Carlo (4000 draws, 5 standard errors)", CORRECTED,
           "holds as an average over initializations, not for one network: a fixed deep DC network's "
           "output energy performs a multiplicative random walk (the circulant's zero frequency carries "
           "1/pi of a ReLU output's energy), so 'the signal will not vanish' is misleading; at n = 1024 "
           "and depth 40 one network's gain ranged over [0.0007, 14] across 20 networks "
           "(benchmarks/bench_dc_init.py, docs/dc_initialization.md)."),
    Result("Thm 5.1", "sigma_1(T_n(f)) <= sup |f| (Gray)", (_B + "toeplitz_bound",),
           ("tests/bounds/test_gray.py::test_toeplitz_bound_is_above_the_norm_and_the_sup",),
           "one-sided against dense SVD", HOLDS),
    Result("Thm 5.2", "block Toeplitz bound sup ||F(w)||", (_B + "block_toeplitz_bound",),
           ("tests/bounds/test_gray.py::test_block_toeplitz_bound",), "one-sided against dense SVD", HOLDS),
    Result("Thm 5.3", "doubly-block Toeplitz bound sup |f(w1, w2)|", (_B + "doubly_block_bound",),
           ("tests/bounds/test_gray.py::test_doubly_block_bound",), "one-sided against dense SVD", HOLDS),
    Result("Thm 5.4", "vertically stacked doubly-block Toeplitz matrices", (_B + "stacked_bound",),
           ("tests/bounds/test_gray.py::test_stacked_bound_1d_and_2d",), "one-sided against dense SVD", HOLDS),
    Result("Lemma 5.1", "D(f)^H = D(f*), D(f) + D(g) = D(f + g)", (),
           (_S + "test_numeric_theorems.py::test_lemma_5_1_to_5_4_doubly_block_toeplitz_facts",),
           "dense, random complex symbols", HOLDS),
    Result("Lemma 5.2", "a real symbol gives a Hermitian D(f)", (),
           (_S + "test_numeric_theorems.py::test_lemma_5_1_to_5_4_doubly_block_toeplitz_facts",),
           "dense, random symbols", HOLDS),
    Result("Lemma 5.3", "a non-negative symbol, not identically zero, gives a positive definite D(f)", (),
           (_S + "test_numeric_theorems.py::test_lemma_5_1_to_5_4_doubly_block_toeplitz_facts",),
           "dense, random symbols", HOLDS),
    Result("Lemma 5.4", "A, B, A - B PSD implies lambda_1(B) <= lambda_1(A)", (),
           (_S + "test_numeric_theorems.py::test_lemma_5_1_to_5_4_doubly_block_toeplitz_facts",),
           "dense, random matrices", HOLDS),
    Result("Lemma 5.5", "doubly-block Widom identity; D(|f|^2) - D(f)^H D(f) is PSD", (_B + "widom_terms",),
           (_S + "test_widom_symbolic.py::test_widom_identity_1d",
            _S + "test_widom_symbolic.py::test_widom_identity_2d_eight_parts",
            _S + "test_widom_symbolic.py::test_widom_psd_consequence_used_by_thm_5_4",
            _S + "test_widom_symbolic.py::test_widom_library_matches_symbolic",
            "tests/bounds/test_widom.py::test_doubly_block_widom_identity",
            "tests/bounds/test_widom.py::test_gram_defect_is_positive_semidefinite"),
           "symbolic (re-derived region by region) and dense", CORRECTED,
           "the printed index formulas are garbled (a G^{alpha4} appears, A.15 repeats A.12); the identity "
           "re-derived as eight off-square parts pairing under the reflection J holds exactly."),
    Result("Lemma 5.6", "sigma_1 of a block concatenation <= sqrt(sum of squared sigma_1)", (_B + "concat_bound",),
           ("tests/bounds/test_gray.py::test_concat_bound",), "one-sided against dense SVD", HOLDS),
    Result("Thm 5.5", "LipBound: sqrt(sum_i max_w sum_j |F_ij(w)|^2) bounds a convolution's norm",
           (_B + "lipbound",),
           ("tests/bounds/test_polygrid.py::test_certified_lipbound_bounds_the_dense_convolution",
            _S + "test_numeric_theorems.py::test_lipbound_loose_by_up_to_sqrt_cout"),
           "one-sided against dense SVD", CORRECTED,
           "holds, but loose by up to sqrt(cout) for multi-output layers (measured above 1.5x on random "
           "8-channel 3x3 kernels; 4.5x on 64x64x3x3 at n = 32); the tight bound is sup_w ||F(w)||_2 "
           "(conv_spectral_norm). The statement describes M with cin n^2 rows and cout n^2 columns, the "
           "transpose of the convolution matrix; the bound implemented (sum over output channels outside "
           "the max) is the one that bounds the convolution."),
    Result("Eq 5.50", "kernel to matrix trigonometric polynomial", (_B + "kernel_symbol",),
           (_S + "test_kernel_symbol_symbolic.py::test_eq_5_50_symbol_is_dft_of_circulant_blocks",
            _S + "test_kernel_symbol_symbolic.py::test_eq_5_50_multichannel_singular_values",
            _S + "test_kernel_symbol_symbolic.py::test_eq_5_50_library_kernel_symbol",
            "tests/bounds/test_polygrid.py::test_kernel_symbol_matches_direct_sum"),
           "symbolic (circulant blocks at N = 4) and dense", HOLDS,
           "the thesis's index h = a - (s - p - 1) changes the symbol by a unit phase only."),
    Result("Eq 5.51-5.52, Alg 5.1", "PolyGrid grid maximum and its (1 - 2d/S)^-1 correction",
           (_B + "polygrid", _B + "lipbound"),
           ("tests/bounds/test_polygrid.py::test_single_polynomial_is_algorithm_5_1",
            "tests/bounds/test_polygrid.py::test_peak_between_grid_points_needs_the_correction",
            "tests/bounds/test_polygrid.py::test_grid_correction_values_and_errors",
            _S + "test_numeric_theorems.py::test_eq_5_52_uncorrected_grid_underestimates"),
           "one-sided against dense SVD", ERRATUM,
           "Table 5.1's ratios below 1 show the uncorrected grid maximum was used; it falls below the true "
           "norm. The printed alpha = 2d/S is stated without a 2-D proof; the library uses the proven "
           "alpha = pi N / (2 S) (N = sum of (k - 1) over kernel axes, Bernstein) or the sharper factor "
           "1/cos(pi N / S) (valid for S > 2N), whichever is smaller. A random search found no "
           "counterexample to the printed alpha. Table 5.1's Sedghi ratios (0.43, 0.67) do not "
           "reproduce either: the circular operator's norm is slightly above the zero-padded one "
           "(median 1.001-1.005)."),
    Result("Eq 5.53-5.54, Fig 5.2", "tightness Gamma(n) = LipBound(K) - sigma_1(M(n)) >= 0, shrinking with n",
           (_B + "tightness_gap", _B + "conv_sigma_max"),
           (_S + "test_numeric_theorems.py::test_eq_5_54_tightness_gap_against_dense",),
           "dense SVD at n = 4, 8, 16", HOLDS),
    Result("Section 6 (certified bound)", "certified two-sided bound of a real conv layer",
           (_B + "conv_spectral_norm",),
           (_S + "test_numeric_theorems.py::test_conv_spectral_norm_is_two_sided",
            "tests/bounds/test_conv_bound.py::test_zero_padding_is_a_compression_of_the_circular_convolution",
            "tests/bounds/test_conv_bound.py::test_bracket_every_configuration",
            "tests/bounds/test_conv_bound.py::test_lower_side_converges_to_the_norm",
            "tests/bounds/test_conv_bound.py::test_single_tap_kernel_is_one_frequency",
            "tests/bounds/test_conv_bound.py::test_gram_from_taps_agrees_with_per_frequency_gram",
            "tests/bounds/test_conv_bound.py::test_tap_gram_error_bound_holds",
            "tests/bounds/test_soundness.py::test_bracket_on_1000_random_layers"),
           "one-sided against dense SVD (stride, padding, groups)", HOLDS),
    Result("Section 6a (the layer's own size)",
           "finite-operator certificates: dead taps dropped, matrices in disguise, Cholesky of the "
           "layer's own Gram matrix (dense or banded); the sides meet at tol",
           (_B + "conv_spectral_norm", "toeplitzkit.adapters.torch.conv_spectral_norm_bound"),
           ("tests/bounds/test_conv_exact_size.py::test_all_ones_kernel_on_tiny_inputs",
            "tests/bounds/test_conv_exact_size.py::test_centre_tap_of_a_512_channel_layer_on_a_1x1_input",
            "tests/bounds/test_conv_exact_size.py::test_replicate_identity_lower_side_never_degrades",
            "tests/bounds/test_conv_exact_size.py::test_reflect_replicate_within_a_tenth_of_a_percent",
            "tests/bounds/test_conv_exact_size.py::test_reduction_keeps_the_norm",
            "tests/bounds/test_conv_exact_size.py::test_gram_matrices_from_taps_have_the_dense_spectrum",
            "tests/bounds/test_conv_exact_size.py::test_banded_certificate_meets_on_a_larger_input",
            "tests/bounds/test_conv_exact_size.py::test_psd_certificate_is_one_sided",
            "tests/bounds/test_conv_exact_size.py::test_torch_bound_is_the_norm_at_the_layer_size"),
           "one-sided against dense SVD and ARPACK; upper <= exact (1 + tol)", HOLDS),
    Result("Eq 5.55-5.56", "Lipschitz regularization: the loss plus the sum of log layer bounds",
           ("toeplitzkit.adapters.torch.LipschitzRegularizer",),
           ("tests/adapters/test_robust.py::test_regularizer_is_the_sum_of_logs_of_the_layer_bounds",
            "tests/adapters/test_robust.py::test_regularizer_gradients_and_lipbound_method"),
           "dense comparison, gradcheck", HOLDS),
    Result("Lemma A.1", "generalized Widom identity (index formulas A.7-A.16)", (_B + "widom_terms",),
           (_S + "test_widom_symbolic.py::test_widom_identity_2d_eight_parts",
            _S + "test_widom_symbolic.py::test_widom_2d_parts_pair_under_reflection",
            "tests/bounds/test_widom.py::test_doubly_block_widom_identity",
            "tests/bounds/test_widom.py::test_mirror_terms_are_reversed_left_terms"),
           "symbolic (n = 2, 3, degree 1) and dense", CORRECTED,
           "alpha_0..alpha_3 are the (lo, mid), (mid, lo), (lo, lo), (hi, lo) parts; A.10 and A.15 as printed "
           "repeat D(f)'s index and must read f_(i1 - l1, i2 - l2) over the (lo, lo) part."),
)

#: Errata, in the words that go into docs/theorems.md.
ERRATA = tuple((r.key, r.note) for r in THEOREMS if r.finding in (ERRATUM, CORRECTED) and r.note)


def resolve(dotted: str):
    """Import ``module.attr[.attr...]`` and return the object (``ImportError``/``AttributeError`` if absent).

    Examples
    --------
    >>> from toeplitzkit._theorems import resolve
    >>> resolve("toeplitzkit.toeplitz.Circulant.eigvals").__name__
    'eigvals'
    """
    parts = dotted.split(".")
    obj = importlib.import_module(parts[0])
    for i, name in enumerate(parts[1:], start=1):
        # attribute first, as ``from package import name`` does (lazy exports of a
        # subpackage shadow its module of the same name); a submodule otherwise.
        try:
            obj = getattr(obj, name)
        except AttributeError:
            obj = importlib.import_module(".".join(parts[: i + 1]))
    return obj


def _cell(items):
    return "<br>".join(f"`{x}`" for x in items) if items else "-"


def render_markdown(status=None) -> str:
    """The theorem map as a markdown page; ``status`` maps a key to 'pass'/'fail' (adds a column).

    Examples
    --------
    >>> from toeplitzkit._theorems import render_markdown, THEOREMS
    >>> page = render_markdown()
    >>> page.startswith("# Theorem map") and all(f"| {r.key} |" in page for r in THEOREMS)
    True
    """
    lines = [
        "# Theorem map",
        "",
        "<!-- generated by `python -m toeplitzkit._theorems > docs/theorems.md`; do not edit -->",
        "",
        "Every numbered result of the thesis the library relies on, the functions that implement it,",
        "the tests that check it and what they found.  `toeplitzkit verify` runs these tests",
        "(`--thorough` for the long hypothesis profile) and prints this table with a pass/fail column.",
        "",
        "Findings: *holds*; *holds with corrected statement* (the result is true once a misprint is",
        "fixed); *erratum* (the text as printed, or as used in the thesis's experiments, is wrong: a",
        "test shows the counterexample); *cited* (an external result the library does not check).",
        "",
    ]
    head = ["Result", "Statement", "Implemented by", "Tests", "How", "Finding"]
    if status is not None:
        head.append("Status")
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for r in THEOREMS:
        cells = [r.key, r.statement, _cell(r.functions), _cell(r.tests), r.how, r.finding]
        if status is not None:
            cells.append(status.get(r.key, "-"))
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += ["", "## Errata", "", "Statements of the thesis that are wrong or garbled as printed, each shown by the "
              "tests of its row above.", ""]
    for key, note in ERRATA:
        lines.append(f"- **{key}**: {note}")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(render_markdown(), end="")
